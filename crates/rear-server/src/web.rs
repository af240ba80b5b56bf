//! Server-rendered HTML: the page frame and the pieces the page handlers assemble.
//!
//! Templates are plain Rust `format!` calls; every value that comes from a report, a user or a
//! URL goes through [`esc`] (or [`url_encode`] inside URLs) before it lands in the HTML, so a
//! hostname like `<script>` renders as text. No JavaScript build step: the only script is the
//! few inline lines of the live page. The CSS is inline too and works down to phone width.

pub mod pages;

use time::OffsetDateTime;

use crate::auth::extract::{Caller, Via};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a string for use in a URL path segment or query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Like [`url_encode`] but also encodes `/` (for one path segment).
pub fn url_segment(s: &str) -> String {
    url_encode(s).replace('/', "%2F")
}

/// "5 min ago", "3 h ago", "12 d ago", or "never".
pub fn age(t: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    let Some(t) = t else { return "never".into() };
    let secs = (now - t).whole_seconds();
    match secs {
        s if s < 0 => "in the future".into(),
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86400),
    }
}

/// A time as `2026-11-26 06:00 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// A duration in milliseconds as `1 h 02 min`, `3 min 05 s` or `12 s`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        s if s >= 3600 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min {:02} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

const CSS: &str = "\
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1b1f23;background:#f6f7f9}\
header{background:#1f3a5f;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center}\
header a{color:#fff}header nav{display:flex;gap:1rem;flex-wrap:wrap}header .who{margin-left:auto}\
main{padding:1rem;max-width:80rem;margin:auto;overflow-wrap:break-word}a{color:#0b5cad}h1{font-size:1.4rem}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #dde1e6;vertical-align:top}\
.wrap{overflow-x:auto}.state{font-weight:600;padding:.05rem .4rem;border-radius:.3rem}\
.ok{background:#d6f5dd;color:#0d5c21}.failed{background:#fbd9d9;color:#8a1010}.stale{background:#fcefc7;color:#6b4e00}.drifted{background:#e3dcf7;color:#3d2a80}\
.tree,.tree ul{list-style:none;padding-left:1.2em}.tree ul{border-left:1px solid #bbb;margin:0}.tree li{margin:.1em 0}.tree .ref{color:#555}\
.tag{display:inline-block;background:#e4e9f2;border-radius:.3rem;padding:0 .35rem;margin:0 .2rem .2rem 0;font-size:.85rem}\
.layout{display:flex;gap:1rem;flex-wrap:wrap}.layout>aside{flex:1 1 12rem;max-width:18rem}.layout>section{flex:4 1 20rem;min-width:0}\
aside ul{list-style:none;padding:0;margin:0 0 1rem}aside li{padding:.1rem 0}\
pre{background:#fff;border:1px solid #dde1e6;padding:.6rem;overflow-x:auto;font-size:.85rem}\
.add{background:#e6f6ea}.del{background:#fde8e8}mark{background:#ffe58a}\
form.inline{display:inline}button,input,select{font:inherit;padding:.3rem .5rem}\
.error{color:#8a1010;font-weight:600}label{display:block;margin:.5rem 0 .2rem}\
.sr{position:absolute;left:-9999px}";

/// The full page around `body`.
pub fn page(title: &str, caller: Option<&Caller>, body: &str) -> String {
    let nav = match caller {
        Some(c) => {
            let logout = if c.via == Via::Session {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/logout\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                     <button type=\"submit\">Log out</button></form>",
                    esc(&c.csrf)
                )
            } else {
                String::new()
            };
            format!(
                "<nav aria-label=\"Main\"><a href=\"/\">Overview</a><a href=\"/live\">Last 20</a>\
                 <a href=\"/search\">Search</a>{}</nav>\
                 <div class=\"who\">{} ({}) {logout}</div>",
                if c.role == crate::store::Role::Admin {
                    "<a href=\"/admin\">Admin</a>"
                } else {
                    ""
                },
                esc(&c.name),
                c.role.as_str()
            )
        }
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} - rear-server</title><style>{CSS}</style></head>\
         <body><header><strong><a href=\"/\">rear-server</a></strong>{nav}</header>\
         <main id=\"main\">{body}</main></body></html>",
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(url_encode("/hosts?x=a b&c"), "/hosts%3Fx%3Da%20b%26c");
        assert_eq!(url_segment("a/b"), "a%2Fb");
    }

    #[test]
    fn human_times() {
        let now = time::macros::datetime!(2026-11-26 12:00 UTC);
        assert_eq!(
            age(Some(time::macros::datetime!(2026-11-26 11:00 UTC)), now),
            "60 min ago"
        );
        assert_eq!(
            age(Some(time::macros::datetime!(2026-11-20 12:00 UTC)), now),
            "6 d ago"
        );
        assert_eq!(age(None, now), "never");
        assert_eq!(duration(3_725_000), "1 h 02 min");
        assert_eq!(when(now), "2026-11-26 12:00 UTC");
    }
}
