//! Parser for `swapon --show=NAME,TYPE,SIZE,USED,PRIO,UUID,LABEL --bytes --raw`.
//!
//! Columns are found by the header line, so other column selections work too. Empty trailing
//! columns (no label) are simply missing in raw output; `\x20` escapes are decoded.

use serde::Serialize;

/// One active swap area.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SwapArea {
    /// NAME: device or file.
    pub name: String,
    /// TYPE: partition or file.
    pub kind: Option<String>,
    /// SIZE in bytes.
    pub size: Option<u64>,
    /// UUID.
    pub uuid: Option<String>,
    /// LABEL.
    pub label: Option<String>,
}

fn unhex(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find("\\x") {
        out.push_str(&rest[..pos]);
        let hex = rest.get(pos + 2..pos + 4).unwrap_or("");
        match u8::from_str_radix(hex, 16) {
            Ok(b) if hex.len() == 2 => {
                out.push(char::from(b));
                rest = &rest[pos + 4..];
            }
            _ => {
                out.push_str("\\x");
                rest = &rest[pos + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses raw `swapon --show` output with its header line.
pub fn parse_swapon(text: &str) -> Vec<SwapArea> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.split_whitespace().collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut a = SwapArea::default();
            for (col, val) in cols.iter().zip(l.split_whitespace()) {
                let val = unhex(val);
                match *col {
                    "NAME" => a.name = val,
                    "TYPE" => a.kind = Some(val),
                    "SIZE" => a.size = val.parse().ok(),
                    "UUID" => a.uuid = Some(val),
                    "LABEL" => a.label = Some(val),
                    _ => {}
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_swapon_host_loop() {
        let s = parse_swapon(include_str!("testdata/host-loop/swapon-raw.txt"));
        insta::assert_json_snapshot!(s);
    }

    #[test]
    fn missing_label_and_escapes() {
        let s = parse_swapon(
            "NAME TYPE SIZE USED PRIO UUID LABEL\n/swap\\x20file file 1024 0 -2 abc\n",
        );
        assert_eq!(s[0].name, "/swap file");
        assert_eq!(s[0].label, None);
        assert_eq!(s[0].uuid.as_deref(), Some("abc"));
    }
}
