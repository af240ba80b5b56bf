# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_rear_global_optspecs
    string join \n V/version v/verbose d/debug D/debugscripts s/simulate S/step-by-step q/quiet r= c= C= n/non-interactive e/expose-secrets h/help
end

function __fish_rear_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_rear_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_rear_using_subcommand
    set -l cmd (__fish_rear_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c rear -n "__fish_rear_needs_command" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_needs_command" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_needs_command" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_needs_command" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_needs_command" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_needs_command" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_needs_command" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_needs_command" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_needs_command" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_needs_command" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_needs_command" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_needs_command" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rear -n "__fish_rear_needs_command" -f -a "help" -d 'Show this usage'
complete -c rear -n "__fish_rear_needs_command" -f -a "dump" -d 'Show the system definition and the configuration'
complete -c rear -n "__fish_rear_needs_command" -f -a "mkrescue" -d 'Create the rescue media only'
complete -c rear -n "__fish_rear_needs_command" -f -a "mkbackup" -d 'Create rescue media and the backup'
complete -c rear -n "__fish_rear_needs_command" -f -a "mkbackuponly" -d 'Create the backup only'
complete -c rear -n "__fish_rear_needs_command" -f -a "recover" -d 'Recover the system (in the rescue system)'
complete -c rear -n "__fish_rear_needs_command" -f -a "restoreonly" -d 'Restore the backup only'
complete -c rear -n "__fish_rear_needs_command" -f -a "layoutonly" -d 'Recreate the disk layout only'
complete -c rear -n "__fish_rear_needs_command" -f -a "savelayout" -d 'Save the disk layout'
complete -c rear -n "__fish_rear_needs_command" -f -a "checklayout" -d 'Check whether the disk layout changed (exit 1 if it did)'
complete -c rear -n "__fish_rear_needs_command" -f -a "mountonly" -d 'Mount the recovered system\'s filesystems under /mnt/local'
complete -c rear -n "__fish_rear_needs_command" -f -a "format" -d 'Format a USB disk as rescue medium (REAR-000)'
complete -c rear -n "__fish_rear_needs_command" -f -a "validate" -d 'Check the configuration and the tools recovery needs'
complete -c rear -n "__fish_rear_needs_command" -f -a "mkdist" -d 'Create a distribution archive of rear itself'
complete -c rear -n "__fish_rear_needs_command" -f -a "inventory" -d 'Collect the system inventory (hardware, packages, services, network, ...)'
complete -c rear -n "__fish_rear_needs_command" -f -a "layout" -d 'Show, import or export a layout file (no lock, changes nothing on disks)'
complete -c rear -n "__fish_rear_using_subcommand help" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand help" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand help" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand help" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand help" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand help" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand help" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand help" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand help" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand help" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand help" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand help" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand help" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand dump" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand dump" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand dump" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand dump" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand dump" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand dump" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand dump" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand dump" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand dump" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand dump" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand dump" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand dump" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand dump" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand mkrescue" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand mkbackup" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand mkbackuponly" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand recover" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand recover" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand recover" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand recover" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand recover" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand recover" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand recover" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand recover" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand recover" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand recover" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand recover" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand recover" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand recover" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -l target -d 'Restore into this directory instead of /mnt/local' -r -F
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand restoreonly" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -l dry-run -d 'Rehearse: create the partitions and filesystems on sparse files (loop devices) of the disks\' sizes instead of the disks, and report what would fail. No disk is touched'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand layoutonly" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand savelayout" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand checklayout" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand mountonly" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand format" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand format" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand format" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand format" -l efi -d 'Make the disk bootable with EFI (adds a REAR-EFI partition). Long form only, because `-e` is the global --expose-secrets'
complete -c rear -n "__fish_rear_using_subcommand format" -s b -l bios -d 'Make the disk bootable with legacy BIOS only'
complete -c rear -n "__fish_rear_using_subcommand format" -s f -l force -d 'Format even if the disk holds data'
complete -c rear -n "__fish_rear_using_subcommand format" -s y -l yes -d 'Answer yes to the confirmation'
complete -c rear -n "__fish_rear_using_subcommand format" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand format" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand format" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand format" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand format" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand format" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand format" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand format" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand format" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand format" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand validate" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand validate" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand validate" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand validate" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand validate" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand validate" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand validate" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand validate" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand validate" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand validate" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand validate" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand validate" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand validate" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand mkdist" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand inventory" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand inventory" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand inventory" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand inventory" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand inventory" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -f -a "show" -d 'Print the layout as a dependency tree, from disks up to mount points'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -f -a "import" -d 'Read a layout in another format and write it as a rear layout file'
complete -c rear -n "__fish_rear_using_subcommand layout; and not __fish_seen_subcommand_from show import export" -f -a "export" -d 'Write a layout file in another format'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -l format -d 'The input format: `rear` is ReaR\'s disklayout.conf' -r -f -a "rear\t'ReaR 2.x `disklayout.conf`'"
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s o -l output -d 'Write here instead of standard output' -r -F
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -l format -d 'The output format: `rear` is ReaR\'s disklayout.conf' -r -f -a "rear\t'ReaR 2.x `disklayout.conf`'"
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s o -l output -d 'Write here instead of standard output' -r -F
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s r -d 'Kernel version to use (default: the running kernel)' -r
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s c -d 'Configuration directory' -r -F
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s C -d 'Extra configuration file, read last (absolute or relative to the configuration directory; ".conf" may be left out). May be given several times' -r
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s V -l version -d 'Print the version and exit'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s v -l verbose -d 'Verbose: show progress messages'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s d -l debug -d 'Debug: also log the output of every command run, and keep the build directory'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s D -l debugscripts -d 'Debugscript: as -d, plus a trace of every step in the log'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s s -l simulate -d 'Simulation: print the steps that would run, in order, and run none'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s S -l step-by-step -d 'Step by step: ask before each step'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Quiet: only warnings and errors'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s n -l non-interactive -d 'Non-interactive: never wait for input; prompts take their pre-answer or default'
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s e -l expose-secrets -d 'Expose secrets: show passwords and keys in the log and in \'dump\''
complete -c rear -n "__fish_rear_using_subcommand layout; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help (see more with \'--help\')'
