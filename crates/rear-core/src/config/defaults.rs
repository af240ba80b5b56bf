//! Built-in defaults and the list of variables rear uses.
//!
//! ReaR keeps its defaults in a 4,500-line bash file. rear keeps the ones it uses in the table
//! [`DEFAULTS`], each with its bash value and one line of help. The table is rendered as bash and
//! sourced before the user's files, so `VAR+=( ... )` in `local.conf` extends our default exactly
//! as it extends ReaR's. A variable set in the configuration that is neither in this table nor
//! matched by [`KNOWN_PREFIXES`] is reported by `rear dump` as not used by this rear.

/// One built-in default.
#[derive(Debug, Clone, Copy)]
pub struct Default {
    /// The variable name.
    pub name: &'static str,
    /// Its value, as the right-hand side of a bash assignment.
    pub value: &'static str,
    /// One line of help.
    pub help: &'static str,
}

macro_rules! defaults {
    ($( $name:ident = $value:literal, $help:literal; )*) => {
        /// The built-in defaults, in the order they are evaluated (later ones may use earlier ones).
        pub const DEFAULTS: &[Default] = &[ $( Default { name: stringify!($name), value: $value, help: $help } ),* ];
    };
}

defaults! {
    // --- paths ---
    VAR_DIR = "/var/lib/rear", "state: layout, recovery facts, output";
    LOG_DIR = "/var/log/rear", "where the log goes";
    LOGFILE = "\"$LOG_DIR/rear-$HOSTNAME.log\"", "the log file";
    TMPDIR = "\"${TMPDIR:-/var/tmp}\"", "where the build directory is created";
    KEEP_BUILD_DIR = "\"\"", "keep the build directory after the run (also -d)";
    // --- output (rescue media) ---
    OUTPUT = "ISO", "rescue media: ISO, PXE, USB, RAWDISK, RAMDISK";
    OUTPUT_URL = "\"\"", "where the rescue media go (default: BACKUP_URL, else ISO_DIR)";
    OUTPUT_PREFIX = "\"$HOSTNAME\"", "sub-directory under OUTPUT_URL";
    OUTPUT_OPTIONS = "\"\"", "mount options for OUTPUT_URL";
    ISO_DIR = "\"$VAR_DIR/output\"", "where the ISO is written";
    ISO_PREFIX = "\"rear-$HOSTNAME\"", "ISO file name without .iso";
    ISO_VOLID = "REAR-ISO", "ISO volume ID";
    KERNEL_FILE = "\"\"", "kernel for the rescue system (default: the running one)";
    KERNEL_CMDLINE = "\"\"", "extra kernel command line for the rescue system";
    REAR_INITRD_COMPRESSION = "\"\"", "initrd compression: zstd (default), gzip, xz";
    MODULES = "()", "extra kernel modules for the rescue system; all_modules ships all";
    MODULES_LOAD = "()", "modules loaded at rescue boot";
    FIRMWARE_FILES = "()", "firmware files to ship (globs); 'no' ships none";
    PROGS = "()", "extra programs for the rescue system, if present";
    REQUIRED_PROGS = "()", "extra programs that must be present";
    COPY_AS_IS = "()", "files and directories copied into the rescue system";
    COPY_AS_IS_EXCLUDE = "()", "exclusions from COPY_AS_IS";
    LIBS = "()", "extra libraries for the rescue system";
    USE_DHCLIENT = "\"\"", "use DHCP in the rescue system";
    USE_STATIC_NETWORKING = "\"\"", "never use DHCP in the rescue system";
    NETWORKING_PREPARATION_COMMANDS = "()", "commands run before the rescue network comes up";
    SSH_ROOT_PASSWORD = "\"\"", "root password for ssh into the rescue system";
    KEYMAP = "\"\"", "console keymap of the rescue system";
    USB_DEVICE = "\"\"", "USB device for OUTPUT=USB";
    USB_RETAIN_BACKUP_NR = "2", "rescue images kept on a USB disk";
    PXE_TFTP_URL = "\"\"", "TFTP directory for OUTPUT=PXE";
    PXE_CONFIG_URL = "\"\"", "PXE configuration directory";
    PXE_RECOVER_MODE = "\"\"", "PXE menu default: automatic or unattended";
    GRUB_RESCUE = "n", "add a rescue entry to the local GRUB";
    SECURE_BOOT_BOOTLOADER = "\"\"", "signed shim for Secure Boot";
    // --- backup ---
    BACKUP = "REQUESTRESTORE", "backup method: NETFS, RSYNC, EXTERNAL, REQUESTRESTORE, ...";
    BACKUP_URL = "\"\"", "backup target: file://, nfs://, cifs://, usb://, sshfs://";
    BACKUP_OPTIONS = "\"\"", "mount options for BACKUP_URL";
    BACKUP_PROG = "tar", "backup program (rear uses its own tar writer)";
    BACKUP_PROG_COMPRESS_OPTIONS = "( --zstd )", "compression: --zstd, --gzip, or empty";
    BACKUP_PROG_COMPRESS_SUFFIX = "\".zst\"", "archive suffix after .tar";
    BACKUP_PROG_ARCHIVE = "backup", "archive name without suffix";
    BACKUP_PROG_EXCLUDE = "( '/tmp/*' '/dev/shm/*' \"$VAR_DIR/output/*\" )", "exclusions (globs)";
    BACKUP_PROG_INCLUDE = "()", "extra paths to back up";
    BACKUP_ONLY_INCLUDE = "no", "back up only BACKUP_PROG_INCLUDE";
    BACKUP_TYPE = "\"\"", "empty (full), incremental or differential";
    FULLBACKUPDAY = "()", "weekdays with a full backup (Mon ... Sun)";
    BACKUP_PROG_CRYPT_ENABLED = "false", "encrypt the backup";
    BACKUP_PROG_CRYPT_KEY = "\"\"", "encryption passphrase";
    NETFS_PREFIX = "\"$HOSTNAME\"", "sub-directory under BACKUP_URL";
    NETFS_KEEP_OLD_BACKUP_COPY = "\"\"", "keep the previous backup as .old";
    EXCLUDE_BACKUP = "()", "components excluded from the backup only";
    BACKUP_RESTORE_MOVE_AWAY_FILES = "( /boot/grub/grubenv /boot/grub2/grubenv )", "moved away after restore";
    EXTERNAL_BACKUP = "\"\"", "BACKUP=EXTERNAL: backup command";
    EXTERNAL_RESTORE = "\"\"", "BACKUP=EXTERNAL: restore command";
    EXTERNAL_CHECK = "\"\"", "BACKUP=EXTERNAL: check command";
    EXTERNAL_IGNORE_ERRORS = "()", "BACKUP=EXTERNAL: exit codes that are not errors";
    // --- layout ---
    EXCLUDE_MOUNTPOINTS = "()", "mount points excluded from layout and backup";
    EXCLUDE_VG = "()", "volume groups excluded";
    ONLY_INCLUDE_VG = "()", "only these volume groups";
    EXCLUDE_MD = "()", "md arrays excluded";
    EXCLUDE_RECREATE = "()", "components not recreated";
    AUTOEXCLUDE_DISKS = "y", "exclude disks no mounted filesystem uses";
    AUTOEXCLUDE_PATH = "( /media /run /mnt /tmp )", "exclude filesystems mounted below these";
    AUTOEXCLUDE_MULTIPATH = "y", "exclude multipath devices";
    LAYOUT_INCLUDE_LOOP_DEVICES = "no", "treat loop devices as disks (tests and loop-backed systems)";
    CHECK_CONFIG_FILES = "( /etc/drbd/ /etc/drbd.conf /etc/lvm/lvm.conf /etc/multipath.conf /etc/rear/ /etc/udev/udev.conf )", "checklayout also compares these files";
    // --- recovery ---
    MIGRATION_MODE = "\"\"", "force (true) or forbid (false) disk migration";
    DISKS_TO_BE_WIPED = "\"\"", "disks wiped before recreation (empty: automatic)";
    WRITE_PROTECTED_IDS = "()", "devices recovery never writes to";
    WRITE_PROTECTED_ID_TYPES = "\"UUID PTUUID PARTUUID WWN\"", "ID types checked against WRITE_PROTECTED_IDS";
    AUTORESIZE_PARTITIONS = "\"\"", "resize all partitions proportionally on other disk sizes";
    AUTORESIZE_EXCLUDE_PARTITIONS = "( boot swap efi )", "partitions that keep their size";
    AUTOSHRINK_DISK_SIZE_LIMIT_PERCENTAGE = "2", "largest shrink of the last partition";
    AUTOINCREASE_DISK_SIZE_THRESHOLD_PERCENTAGE = "10", "smallest growth that grows the last partition";
    LUKS_CRYPTSETUP_OPTIONS = "\"--iter-time 2000\"", "extra luksFormat options";
    TARGET_FS_ROOT = "/mnt/local", "where recovery mounts the recreated filesystems and restores to";
    BACKUP_PROG_CRYPT_KEY_FILE = "\"\"", "file holding the backup passphrase or age identities";
    PRE_RECOVERY_SCRIPT = "\"\"", "run before recovery";
    POST_RECOVERY_SCRIPT = "\"\"", "run after recovery";
    PRE_BACKUP_SCRIPT = "\"\"", "run before the backup";
    POST_BACKUP_SCRIPT = "\"\"", "run after the backup";
    USER_INPUT_TIMEOUT = "300", "seconds a prompt waits";
    TIMESYNC = "\"\"", "time sync in the rescue system: NTP, CHRONY, ...";
    // --- reporting ---
    REAR_SERVER = "\"\"", "rear-server to report to: https://... or mailto:...";
    REAR_SERVER_SEND_RESULT = "no", "send a report after every run";
    REAR_SERVER_TAGS = "()", "tags of this host on the rear-server";
    REAR_SERVER_TOKEN = "\"\"", "ingest token for the rear-server (HTTPS bearer, X-Rear-Token in mail)";
    REAR_SERVER_SMTP_RELAY = "\"\"", "mail reports via this SMTP relay (host[:port]) instead of sendmail";
    REAR_SERVER_MAIL_FROM = "\"\"", "sender of report mails (default root@HOSTNAME)";
    REAR_SERVER_MAIL_MAX_IMAGE_SIZE = "7000000", "attach the rescue image to report mails below this size";
    REAR_SERVER_UPLOAD_IMAGE = "yes", "upload the rescue ISO to an https:// rear-server after mkrescue/mkbackup";
    RESULT_MAILTO = "()", "ReaR's result mail recipients";
    // --- rescue (session 2) ---
    SSH_FILES = "avoid_sensitive_files", "rescue sshd: yes also copies the host keys (else generated at boot)";
    PXE_TFTP_PATH = "\"\"", "local TFTP directory for OUTPUT=PXE (instead of PXE_TFTP_URL)";
    PXE_CONFIG_PATH = "\"\"", "local pxelinux.cfg directory (instead of PXE_CONFIG_URL)";
    PXE_TFTP_PREFIX = "\"\"", "prefix of the PXE kernel and initrd names (default rear-HOSTNAME.)";
}

/// Variables rear reads that have no default (set by rear itself or optional).
pub const KNOWN_WITHOUT_DEFAULT: &[&str] = &[
    "ARCH",
    "OS",
    "OS_VENDOR",
    "OS_VERSION",
    "OS_MASTER_VENDOR",
    "MACHINE",
    "HOSTNAME",
    "KERNEL_VERSION",
    "WORKFLOW",
    "CONFIG_DIR",
    "VERSION",
    "RECOVERY_MODE",
    "NETFS_URL",
    "FORMAT_DEVICE",
    "LAYOUT_REHEARSAL",
    "FORMAT_YES",
    "USB_UEFI_PART_SIZE",
];

/// Name prefixes of variable families rear uses (`USER_INPUT_<ID>`, ...).
pub const KNOWN_PREFIXES: &[&str] = &[
    "USER_INPUT_",
    "COPY_AS_IS_",
    "PROGS_",
    "MKFS_XFS_OPTIONS_",
    "BORGBACKUP_",
    "BORG_",
    "RESTIC_",
];

/// Variables whose values are secrets: masked in the log and in `rear dump` unless `-e`.
pub const SECRET_VARIABLES: &[&str] = &[
    "BACKUP_PROG_CRYPT_KEY",
    "SSH_ROOT_PASSWORD",
    "REAR_SERVER_TOKEN",
    "BORG_PASSPHRASE",
];

/// Whether this rear uses `name`.
pub fn is_known_variable(name: &str) -> bool {
    DEFAULTS.iter().any(|d| d.name == name)
        || KNOWN_WITHOUT_DEFAULT.contains(&name)
        || KNOWN_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether the value of `name` must be masked.
pub fn is_secret(name: &str) -> bool {
    SECRET_VARIABLES.contains(&name)
        || ["PASSWORD", "PASSPHRASE", "SECRET", "TOKEN"]
            .iter()
            .any(|w| name.contains(w))
        || name.ends_with("_KEY")
        || name.ends_with("_PASS")
}

/// Renders the defaults as bash assignments.
pub fn defaults_as_bash() -> String {
    DEFAULTS
        .iter()
        .map(|d| format!("{}={}\n", d.name, d.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_known() {
        let mut names: Vec<_> = DEFAULTS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "a default is listed twice");
        assert!(is_known_variable("BACKUP_URL"));
        assert!(is_known_variable("USER_INPUT_LAYOUT_CONFIRM"));
        assert!(is_known_variable("BORGBACKUP_HOST"));
        assert!(!is_known_variable("TSM_SERVER"));
    }

    #[test]
    fn secrets() {
        assert!(is_secret("BACKUP_PROG_CRYPT_KEY"));
        assert!(is_secret("SSH_ROOT_PASSWORD"));
        assert!(is_secret("BORG_PASSPHRASE"));
        assert!(!is_secret("BACKUP_PROG_CRYPT_KEY_FILE"));
        assert!(!is_secret("BACKUP_URL"));
    }
}
