//! [`Config`] and [`Value`]: the variables after bash evaluated the files, and the parser of
//! `declare -p` output that produces them.

use std::collections::BTreeMap;

/// The value of one configuration variable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A plain variable: `VAR=value`.
    Scalar(String),
    /// An indexed array: `VAR=( a "b c" )`.
    Array(Vec<String>),
    /// An associative array: `declare -A VAR=( [k]=v )`.
    Assoc(BTreeMap<String, String>),
}

impl Value {
    /// The value as bash would expand `$VAR`: a scalar, or an array's first element.
    pub fn as_scalar(&self) -> String {
        match self {
            Value::Scalar(s) => s.clone(),
            Value::Array(a) => a.first().cloned().unwrap_or_default(),
            Value::Assoc(m) => m.get("0").cloned().unwrap_or_default(),
        }
    }

    /// The value as a list: an array's elements, or a scalar split on whitespace (as bash word
    /// splitting would; ReaR often accepts both forms, for example `MODULES_LOAD`).
    pub fn as_list(&self) -> Vec<String> {
        match self {
            Value::Scalar(s) => s.split_whitespace().map(str::to_string).collect(),
            Value::Array(a) => a.clone(),
            Value::Assoc(m) => m.values().cloned().collect(),
        }
    }

    /// Renders the value as a bash assignment right-hand side.
    pub fn to_bash(&self) -> String {
        match self {
            Value::Scalar(s) => bash_quote(s),
            Value::Array(a) => {
                let items: Vec<String> = a.iter().map(|s| bash_quote(s)).collect();
                format!("( {} )", items.join(" "))
            }
            Value::Assoc(m) => {
                let items: Vec<String> =
                    m.iter().map(|(k, v)| format!("[{}]={}", bash_quote(k), bash_quote(v))).collect();
                format!("( {} )", items.join(" "))
            }
        }
    }
}

/// Quotes `s` for bash, leaving simple words bare.
pub fn bash_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The effective configuration: every variable, after all files were read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Config {
    vars: BTreeMap<String, Value>,
}

impl Config {
    /// An empty configuration (no defaults): mostly for tests.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a configuration from variables.
    pub fn from_vars(vars: BTreeMap<String, Value>) -> Self {
        Config { vars }
    }

    /// Sets a variable (used by the CLI for options such as `-r KERNEL`).
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        self.vars.insert(name.into(), value);
    }

    /// The raw value of a variable.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// `$VAR` as bash would expand it, or `None` when unset.
    pub fn get_string(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(Value::as_scalar)
    }

    /// `$VAR`, or `""` when unset.
    pub fn string(&self, name: &str) -> String {
        self.get_string(name).unwrap_or_default()
    }

    /// `${VAR[@]}` as a list; empty when unset.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.vars.get(name).map(Value::as_list).unwrap_or_default()
    }

    /// ReaR's `is_true`: y, yes, true, 1 and on (any case) are true.
    pub fn is_true(&self, name: &str) -> bool {
        is_true(&self.string(name))
    }

    /// ReaR's `is_false`: n, no, false, 0 and off (any case) are false.
    pub fn is_false(&self, name: &str) -> bool {
        is_false(&self.string(name))
    }

    /// Every variable, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.vars.iter()
    }
}

/// ReaR's `is_true`.
pub fn is_true(s: &str) -> bool {
    matches!(s.trim().to_ascii_lowercase().as_str(), "y" | "yes" | "true" | "1" | "on")
}

/// ReaR's `is_false`.
pub fn is_false(s: &str) -> bool {
    matches!(s.trim().to_ascii_lowercase().as_str(), "n" | "no" | "false" | "0" | "off")
}

/// Parses the output of bash's `declare -p` into variables.
///
/// Handles the forms bash 4 and 5 print: `declare -- NAME="value"`, `declare -x NAME="v"`,
/// `declare -a NAME=([0]="a" [1]="b c")`, `declare -A NAME=([k]="v" )`, `declare -i N="3"`,
/// `declare -r`, and names declared without a value (`declare -a NAME`). Values use bash's
/// double-quote escaping (`\"`, `\\`, `\$`, `` \` ``) and, for values with control characters,
/// `$'...'` ANSI-C quoting.
///
/// # Errors
/// A line that is not one of those forms, with the offending line.
pub fn parse_declare_p(text: &str) -> Result<BTreeMap<String, Value>, String> {
    let mut vars = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        // Values may contain newlines, so parse with a cursor over the whole text, not by line.
        rest = rest.trim_start_matches('\n');
        if rest.is_empty() {
            break;
        }
        let Some(after) = rest.strip_prefix("declare ") else {
            let line = rest.lines().next().unwrap_or_default();
            return Err(format!("not a declare line: {line}"));
        };
        let (flags, after) = after.split_once(' ').ok_or("declare without a name")?;
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_end];
        let mut cur = &after[name_end..];
        let value = if let Some(v) = cur.strip_prefix('=') {
            cur = v;
            if flags.contains('a') || flags.contains('A') {
                let (map, remain) = parse_compound(cur)?;
                cur = remain;
                if flags.contains('A') {
                    Value::Assoc(map.into_iter().collect())
                } else {
                    let mut indexed: Vec<(usize, String)> = map
                        .into_iter()
                        .map(|(k, v)| k.parse::<usize>().map(|i| (i, v)))
                        .collect::<Result<_, _>>()
                        .map_err(|e| format!("bad array index in {name}: {e}"))?;
                    indexed.sort_by_key(|(i, _)| *i);
                    Value::Array(indexed.into_iter().map(|(_, v)| v).collect())
                }
            } else {
                let (s, remain) = parse_word(cur)?;
                cur = remain;
                Value::Scalar(s)
            }
        } else if flags.contains('a') {
            Value::Array(Vec::new())
        } else if flags.contains('A') {
            Value::Assoc(BTreeMap::new())
        } else {
            Value::Scalar(String::new())
        };
        if !name.is_empty() {
            vars.insert(name.to_string(), value);
        }
        rest = cur.strip_prefix('\n').unwrap_or(cur);
        // skip anything left on the line (there should be nothing)
        if !rest.is_empty() && !rest.starts_with("declare ") {
            let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            if rest[..line_end].trim().is_empty() {
                rest = &rest[line_end..];
            } else {
                return Err(format!("unexpected text after {name}: {}", &rest[..line_end]));
            }
        }
    }
    Ok(vars)
}

/// Parses `([k]="v" [k2]="v2" )` and returns the pairs in order, and the rest of the input.
fn parse_compound(s: &str) -> Result<(Vec<(String, String)>, &str), String> {
    // bash ≥ 5.2 may print an assoc array inside single quotes: declare -A X='([k]="v" )'
    // but the declare -p form we ask for prints it bare; handle both.
    let (quoted, mut cur) = match s.strip_prefix("'(") {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('(').ok_or("expected '(' after '='")?),
    };
    let mut items = Vec::new();
    loop {
        cur = cur.trim_start_matches(' ');
        if let Some(r) = cur.strip_prefix(')') {
            cur = if quoted { r.strip_prefix('\'').unwrap_or(r) } else { r };
            return Ok((items, cur));
        }
        let r = cur.strip_prefix('[').ok_or_else(|| format!("expected '[' at: {}", head(cur)))?;
        let (key, r) = if r.starts_with('"') || r.starts_with("$'") {
            parse_word(r)?
        } else {
            let end = r.find(']').ok_or("unterminated '['")?;
            (r[..end].to_string(), &r[end..])
        };
        let r = r.strip_prefix("]=").ok_or_else(|| format!("expected ']=' at: {}", head(r)))?;
        let (val, r) = parse_word(r)?;
        items.push((key, val));
        cur = r;
    }
}

fn head(s: &str) -> &str {
    &s[..s.len().min(40)]
}

/// Parses one bash word as `declare -p` prints it: `"..."`, `$'...'` or `'...'`, or a bare word.
fn parse_word(s: &str) -> Result<(String, &str), String> {
    if let Some(r) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = r.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Ok((out, &r[i + 1..])),
                '\\' => match chars.next() {
                    Some((_, n @ ('"' | '\\' | '$' | '`'))) => out.push(n),
                    Some((_, '\n')) => {}
                    Some((_, n)) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => return Err("unterminated escape".into()),
                },
                c => out.push(c),
            }
        }
        Err("unterminated double quote".into())
    } else if let Some(r) = s.strip_prefix("$'") {
        let mut out = String::new();
        let mut chars = r.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => return Ok((out, &r[i + 1..])),
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, 'e' | 'E')) => out.push('\x1b'),
                    Some((_, 'a')) => out.push('\x07'),
                    Some((_, 'b')) => out.push('\x08'),
                    Some((_, 'f')) => out.push('\x0c'),
                    Some((_, 'v')) => out.push('\x0b'),
                    Some((_, '0'..='7')) => {
                        // bash prints control characters as \NNN octal
                        let start = i + 1;
                        let mut end = start + 1;
                        while end < r.len() && end < start + 3 && r.as_bytes()[end].is_ascii_digit()
                        {
                            chars.next();
                            end += 1;
                        }
                        let code = u8::from_str_radix(&r[start..end], 8)
                            .map_err(|e| format!("bad octal escape: {e}"))?;
                        out.push(char::from(code));
                    }
                    Some((_, n)) => out.push(n),
                    None => return Err("unterminated escape".into()),
                },
                c => out.push(c),
            }
        }
        Err("unterminated $' quote".into())
    } else if let Some(r) = s.strip_prefix('\'') {
        let end = r.find('\'').ok_or("unterminated single quote")?;
        Ok((r[..end].to_string(), &r[end + 1..]))
    } else {
        let end = s.find([' ', '\n', ')']).unwrap_or(s.len());
        Ok((s[..end].to_string(), &s[end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bash_52_declare_output() {
        // Captured from: bash 5.2.15 (Debian 12), `declare -p A B C D E F`
        let text = r#"declare -- OUTPUT="ISO"
declare -x BACKUP_URL="nfs://server/export/path"
declare -a MODULES_LOAD=([0]="vmxnet" [1]="with space" [2]="q\"uote")
declare -A MAP=([key]="value" ["k 2"]="v2" )
declare -i N="3"
declare -a EMPTY=()
declare -a UNSET_ARRAY
declare -- MULTI="line1
line2"
declare -- ESC=$'a\tb\001'
declare -- DOLLAR="\$HOME and \`cmd\`"
"#;
        let vars = parse_declare_p(text).unwrap();
        assert_eq!(vars["OUTPUT"], Value::Scalar("ISO".into()));
        assert_eq!(vars["BACKUP_URL"], Value::Scalar("nfs://server/export/path".into()));
        assert_eq!(
            vars["MODULES_LOAD"],
            Value::Array(vec!["vmxnet".into(), "with space".into(), "q\"uote".into()])
        );
        let Value::Assoc(map) = &vars["MAP"] else { panic!("not assoc") };
        assert_eq!(map["key"], "value");
        assert_eq!(map["k 2"], "v2");
        assert_eq!(vars["N"], Value::Scalar("3".into()));
        assert_eq!(vars["EMPTY"], Value::Array(vec![]));
        assert_eq!(vars["UNSET_ARRAY"], Value::Array(vec![]));
        assert_eq!(vars["MULTI"], Value::Scalar("line1\nline2".into()));
        assert_eq!(vars["ESC"], Value::Scalar("a\tb\u{1}".into()));
        assert_eq!(vars["DOLLAR"], Value::Scalar("$HOME and `cmd`".into()));
    }

    #[test]
    fn sparse_arrays_keep_order() {
        let vars = parse_declare_p("declare -a X=([0]=\"a\" [5]=\"b\" [2]=\"c\")\n").unwrap();
        assert_eq!(vars["X"], Value::Array(vec!["a".into(), "c".into(), "b".into()]));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_declare_p("hello world\n").is_err());
        assert!(parse_declare_p("declare -- X=\"unterminated\n").is_err());
    }

    #[test]
    fn truthiness_matches_rear() {
        for t in ["y", "Yes", "TRUE", "1", "on"] {
            assert!(is_true(t), "{t}");
        }
        for f in ["n", "No", "false", "0", "OFF"] {
            assert!(is_false(f), "{f}");
        }
        assert!(!is_true("") && !is_false(""));
    }

    #[test]
    fn bash_rendering_round_trips_quotes() {
        assert_eq!(bash_quote("ISO"), "ISO");
        assert_eq!(bash_quote("a b"), "'a b'");
        assert_eq!(bash_quote("it's"), "'it'\\''s'");
        assert_eq!(Value::Array(vec!["a".into(), "b c".into()]).to_bash(), "( a 'b c' )");
    }
}
