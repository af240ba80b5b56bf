//! Loading the configuration the way ReaR does: bash sources the files in order.
//!
//! Order: rear's built-in variables (ARCH, OS_VENDOR, ...), the built-in defaults, then
//! `$CONFIG_DIR/os.conf`, `$CONFIG_DIR/$WORKFLOW.conf`, `site.conf`, `local.conf`, `rescue.conf`
//! (only inside the rescue system), then every `-C` file. Missing files are skipped.
//!
//! One `bash --noprofile --norc` process does it all. Before sourcing a file it checks its syntax
//! with `bash -n`, so a syntax error is reported with the file and line and nothing of that file
//! runs. After each file it prints `declare -p` on a separate descriptor; comparing consecutive
//! dumps tells which file set which variable. The environment is cleared except for a few
//! variables (PATH, HOME, TERM, LANG, TMPDIR), so that the result depends on the files only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::defaults::{defaults_as_bash, is_known_variable};
use super::value::{Config, Value, bash_quote, parse_declare_p};
use crate::cmd::{Cmd, CommandError, Runner, tools};
use crate::system::SystemInfo;
use crate::{Error, Result};

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The configuration directory (`-c DIR`, default `/etc/rear`).
    pub config_dir: PathBuf,
    /// The workflow being run (selects `$WORKFLOW.conf`).
    pub workflow: String,
    /// Extra files (`-C CONF`), absolute or relative to `config_dir`, `.conf` optional.
    pub extra_files: Vec<String>,
    /// Whether this is the rescue system (reads `rescue.conf`).
    pub rescue_mode: bool,
    /// Facts about the system, set as variables before the defaults.
    pub system: SystemInfo,
    /// Variables set by command-line options (e.g. `KERNEL_VERSION` from `-r`), set before the
    /// defaults so that files can still override them.
    pub overrides: BTreeMap<String, String>,
}

impl LoadOptions {
    /// The files that will be sourced, in order, whether or not they exist.
    pub fn candidate_files(&self) -> Vec<PathBuf> {
        let mut files = vec![
            self.config_dir.join("os.conf"),
            self.config_dir.join(format!("{}.conf", self.workflow)),
            self.config_dir.join("site.conf"),
            self.config_dir.join("local.conf"),
        ];
        if self.rescue_mode {
            files.push(self.config_dir.join("rescue.conf"));
        }
        for extra in &self.extra_files {
            files.push(resolve_extra(&self.config_dir, extra));
        }
        files
    }
}

/// `-C name` is absolute or relative to the config dir, and `.conf` may be left out (as in ReaR).
fn resolve_extra(config_dir: &Path, name: &str) -> PathBuf {
    let path = if Path::new(name).is_absolute() {
        PathBuf::from(name)
    } else {
        config_dir.join(name)
    };
    if path.exists() || name.ends_with(".conf") {
        path
    } else {
        let mut with = path.clone().into_os_string();
        with.push(".conf");
        let with = PathBuf::from(with);
        if with.exists() { with } else { path }
    }
}

/// One configuration file that was considered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourcedFile {
    /// Its path.
    pub path: PathBuf,
    /// Whether it existed (and was therefore read).
    pub read: bool,
    /// The variables it set or changed.
    pub set: Vec<String>,
}

/// The configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The effective variables.
    pub config: Config,
    /// Every candidate file, in order.
    pub files: Vec<SourcedFile>,
    /// Where each variable got its value: a file path, `default`, or `rear` (built-in facts).
    pub origin: BTreeMap<String, String>,
    /// Variables set by the files that this rear does not use.
    pub unused: Vec<String>,
    /// What bash printed on stderr while sourcing (e.g. `command not found`), per line.
    pub warnings: Vec<String>,
}

/// Names bash maintains itself; they are never configuration.
const BASH_INTERNALS: &[&str] = &[
    "_",
    "BASHOPTS",
    "BASHPID",
    "BASH_ALIASES",
    "BASH_ARGC",
    "BASH_ARGV",
    "BASH_ARGV0",
    "BASH_CMDS",
    "BASH_COMMAND",
    "BASH_EXECUTION_STRING",
    "BASH_LINENO",
    "BASH_LOADABLES_PATH",
    "BASH_REMATCH",
    "BASH_SOURCE",
    "BASH_SUBSHELL",
    "BASH_VERSINFO",
    "BASH_VERSION",
    "COLUMNS",
    "COMP_WORDBREAKS",
    "DIRSTACK",
    "EPOCHREALTIME",
    "EPOCHSECONDS",
    "EUID",
    "FUNCNAME",
    "GROUPS",
    "HISTCMD",
    "HOSTTYPE",
    "IFS",
    "LINENO",
    "LINES",
    "MACHTYPE",
    "OPTERR",
    "OPTIND",
    "OSTYPE",
    "PIPESTATUS",
    "PPID",
    "PS4",
    "PWD",
    "OLDPWD",
    "RANDOM",
    "SECONDS",
    "SHELLOPTS",
    "SHLVL",
    "SRANDOM",
    "UID",
    "BASH",
];

const MARK: &str = "@@REAR-CONFIG@@";

/// Loads the configuration. See the module documentation for the order and the mechanism.
///
/// # Errors
/// [`Error::Config`] with file and line for a syntax error or a carriage return in a file, and
/// for a file that exists but cannot be read; [`Error::Command`] when bash cannot run.
pub fn load(opts: &LoadOptions, runner: &dyn Runner) -> Result<LoadedConfig> {
    let files = opts.candidate_files();
    let mut readable = Vec::new();
    for path in &files {
        match std::fs::read(path) {
            Ok(bytes) => {
                if let Some(pos) = bytes.iter().position(|&b| b == b'\r') {
                    let line = bytes[..pos].iter().filter(|&&b| b == b'\n').count() + 1;
                    return Err(Error::Config {
                        file: path.clone(),
                        line: Some(line),
                        message: "carriage return (CR) in file: convert it with 'dos2unix'".into(),
                    });
                }
                readable.push(true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => readable.push(false),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
                return Err(Error::Config {
                    file: path.clone(),
                    line: None,
                    message: "is a directory, not a configuration file".into(),
                });
            }
            Err(e) => return Err(Error::io("reading configuration file", path, e)),
        }
    }
    // An explicit -C file that does not exist is an error: the user asked for it.
    for (i, extra) in opts.extra_files.iter().enumerate() {
        let idx = files.len() - opts.extra_files.len() + i;
        if !readable[idx] {
            return Err(Error::Config {
                file: files[idx].clone(),
                line: None,
                message: format!("configuration file given with -C {extra} does not exist"),
            });
        }
    }

    let script = build_script(opts, &files, &readable);
    let out = Cmd::probe(tools::BASH)
        .args(["--noprofile", "--norc", "-c", &script])
        .describe("reading the configuration files")
        .env_clear_except(&["PATH", "HOME", "TERM", "LANG", "TMPDIR"])
        .allow_exit_codes(&[90])
        .run(runner)
        .map_err(Error::from)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status == 90 {
        return Err(syntax_error(&stderr, &files));
    }
    let sections = split_sections(&stdout).map_err(|m| {
        Error::from(CommandError::Parse {
            cmd: "bash (configuration loader)".into(),
            message: m,
        })
    })?;
    assemble(&files, &readable, &sections, &stderr)
}

fn build_script(opts: &LoadOptions, files: &[PathBuf], readable: &[bool]) -> String {
    let mut s = String::new();
    s.push_str("exec 3>&1 1>&2\nshopt -s nullglob extglob\n");
    s.push_str(&format!(
        "__rear_dump() {{ printf '\\n{MARK} %s\\n' \"$1\" >&3; declare -p >&3 2>/dev/null; }}\n"
    ));
    s.push_str("__rear_dump baseline\n");
    let sys = &opts.system;
    let builtins = [
        ("ARCH", sys.arch.as_str()),
        ("MACHINE", sys.machine.as_str()),
        ("OS", sys.os.as_str()),
        ("OS_VENDOR", sys.os_vendor.as_str()),
        ("OS_VERSION", sys.os_version.as_str()),
        ("OS_MASTER_VENDOR", sys.os_master_vendor.as_str()),
        ("HOSTNAME", sys.hostname.as_str()),
        ("KERNEL_VERSION", sys.kernel_version.as_str()),
        ("WORKFLOW", opts.workflow.as_str()),
        ("VERSION", crate::VERSION),
    ];
    for (k, v) in builtins {
        s.push_str(&format!("{k}={}\n", bash_quote(v)));
    }
    s.push_str(&format!(
        "CONFIG_DIR={}\nRECOVERY_MODE={}\n",
        bash_quote(&opts.config_dir.to_string_lossy()),
        if opts.rescue_mode { "1" } else { "''" }
    ));
    for (k, v) in &opts.overrides {
        s.push_str(&format!("{k}={}\n", bash_quote(v)));
    }
    s.push_str("__rear_dump rear\n");
    s.push_str(&defaults_as_bash());
    s.push_str("__rear_dump default\n");
    for (i, (path, &ok)) in files.iter().zip(readable).enumerate() {
        if !ok {
            continue;
        }
        let p = bash_quote(&path.to_string_lossy());
        s.push_str(&format!(
            "if ! \"$BASH\" -n {p}; then exit 90; fi\nbuiltin source {p}\n__rear_dump file{i}\n"
        ));
    }
    s
}

/// One `declare -p` dump: its name (`baseline`, `rear`, `default`, `fileN`) and variables.
type Section = (String, BTreeMap<String, Value>);

fn split_sections(stdout: &str) -> std::result::Result<Vec<Section>, String> {
    let mut sections = Vec::new();
    for chunk in stdout.split(&format!("\n{MARK} ")).skip(1) {
        let (name, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
        sections.push((name.to_string(), parse_declare_p(body)?));
    }
    Ok(sections)
}

/// Turns bash's "FILE: line N: syntax error ..." into a [`Error::Config`].
fn syntax_error(stderr: &str, files: &[PathBuf]) -> Error {
    for line in stderr.lines() {
        for f in files {
            let prefix = format!("{}: line ", f.display());
            if let Some(rest) = line.strip_prefix(&prefix) {
                let (num, msg) = rest.split_once(": ").unwrap_or((rest, "syntax error"));
                return Error::Config {
                    file: f.clone(),
                    line: num.trim().parse().ok(),
                    message: msg.trim().to_string(),
                };
            }
        }
    }
    Error::Config {
        file: files.first().cloned().unwrap_or_default(),
        line: None,
        message: format!("bash could not read the configuration: {}", stderr.trim()),
    }
}

fn assemble(
    files: &[PathBuf],
    readable: &[bool],
    sections: &[Section],
    stderr: &str,
) -> Result<LoadedConfig> {
    let mut iter = sections.iter();
    let Some((_, baseline)) = iter.next() else {
        return Err(Error::invalid(
            "configuration loader",
            "bash printed no variables",
        ));
    };
    // A variable is configuration unless bash maintains it, or it came from the environment and
    // nothing changed it (PATH, HOME, ...). Variables rear uses are kept even when their value
    // equals the environment's (HOSTNAME is both a bash variable and ours).
    let is_config_var = |name: &str, value: &Value| -> bool {
        !BASH_INTERNALS.contains(&name)
            && !name.starts_with("__rear")
            && !name.starts_with("BASH_")
            && (baseline.get(name) != Some(value) || is_known_variable(name))
    };
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    let mut per_file: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut previous = baseline;
    let mut last = baseline;
    for (name, vars) in iter {
        let source = match name.as_str() {
            "rear" => "rear".to_string(),
            "default" => "default".to_string(),
            other => {
                let idx: usize = other
                    .strip_prefix("file")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| Error::invalid("configuration loader", "bad section"))?;
                files[idx].display().to_string()
            }
        };
        for (k, v) in vars {
            if is_config_var(k, v) && previous.get(k) != Some(v) {
                origin.insert(k.clone(), source.clone());
                if let Some(idx) = name
                    .strip_prefix("file")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    per_file.entry(idx).or_default().push(k.clone());
                }
            }
        }
        previous = vars;
        last = vars;
    }
    let vars: BTreeMap<String, Value> = last
        .iter()
        .filter(|(k, v)| is_config_var(k, v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mut unused = BTreeSet::new();
    for names in per_file.values() {
        for n in names {
            if !is_known_variable(n) {
                unused.insert(n.clone());
            }
        }
    }
    let mut config = Config::from_vars(vars);
    // NETFS_URL is the old name of BACKUP_URL.
    if config.string("BACKUP_URL").is_empty()
        && let Some(v) = config.get("NETFS_URL").cloned()
    {
        config.set("BACKUP_URL", v);
    }
    let warnings = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let sourced = files
        .iter()
        .zip(readable)
        .enumerate()
        .map(|(i, (path, &read))| SourcedFile {
            path: path.clone(),
            read,
            set: per_file.get(&i).cloned().unwrap_or_default(),
        })
        .collect();
    Ok(LoadedConfig {
        config,
        files: sourced,
        origin,
        unused: unused.into_iter().collect(),
        warnings,
    })
}
