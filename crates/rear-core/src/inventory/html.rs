//! The inventory as one readable HTML page (no scripts, no external resources).

use std::fmt::Write;

use super::{Inventory, Section};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn section<T>(out: &mut String, title: &str, s: &Section<T>, body: impl FnOnce(&mut String, &T)) {
    let _ = writeln!(out, "<section><h2>{}</h2>", esc(title));
    match s {
        Section::Ok { data } => body(out, data),
        Section::Unavailable { reason } => {
            let _ = writeln!(out, "<p class=na>Not available: {}</p>", esc(reason));
        }
        Section::Failed { error } => {
            let _ = writeln!(out, "<p class=err>Failed: {}</p>", esc(error));
        }
        Section::TimedOut {
            command,
            after_secs,
        } => {
            let _ = writeln!(
                out,
                "<p class=err>Timed out after {after_secs} s: {}</p>",
                esc(command)
            );
        }
    }
    out.push_str("</section>\n");
}

fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn lines(out: &mut String, l: &[String]) {
    let _ = writeln!(out, "<pre>{}</pre>", esc(&l.join("\n")));
}

/// Renders the inventory.
pub fn to_html(inv: &Inventory) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
<title>Inventory of {h}</title><style>body{{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}}\
.err{{color:#a00}}.na{{color:#666}}pre{{background:#f4f4f4;padding:.5em;overflow:auto}}</style></head><body>\
<h1>Inventory of {h}</h1><p>Collected {t} by rear-rs {v}.</p>",
        h = esc(&inv.hostname),
        t = esc(&inv.collected_at),
        v = crate::VERSION
    );
    section(&mut o, "Hardware", &inv.hardware, |o, h| {
        let _ = writeln!(
            o,
            "<p>{} × {}, {} MiB memory</p>",
            h.cpus,
            esc(&h.cpu_model),
            h.memory_bytes >> 20
        );
        table(
            o,
            &["DMI", "value"],
            h.dmi.iter().map(|(k, v)| vec![k.clone(), v.clone()]),
        );
        table(
            o,
            &["disk", "size", "model", "serial", "WWN", "transport"],
            h.disks.iter().map(|d| {
                vec![
                    d.name.clone(),
                    d.size.to_string(),
                    d.model.clone().unwrap_or_default(),
                    d.serial.clone().unwrap_or_default(),
                    d.wwn.clone().unwrap_or_default(),
                    d.tran.clone().unwrap_or_default(),
                ]
            }),
        );
        table(
            o,
            &["NIC", "MAC", "driver", "speed (Mb/s)"],
            h.nics.iter().map(|n| {
                vec![
                    n.name.clone(),
                    n.mac.clone(),
                    n.driver.clone().unwrap_or_default(),
                    n.speed_mbps.map(|s| s.to_string()).unwrap_or_default(),
                ]
            }),
        );
    });
    section(&mut o, "Operating system", &inv.os, |o, s| {
        table(
            o,
            &["", ""],
            [
                vec!["distribution".into(), s.distribution.clone()],
                vec!["kernel".into(), s.kernel.clone()],
                vec!["command line".into(), s.cmdline.clone()],
                vec!["libc".into(), s.libc.clone()],
                vec!["modules".into(), s.modules.join(" ")],
            ],
        );
        lines(o, &s.bootloader_config);
    });
    section(&mut o, "Packages", &inv.packages, |o, p| {
        let _ = writeln!(o, "<p>{} installed</p>", p.len());
        table(
            o,
            &["package", "version", "arch"],
            p.iter()
                .map(|p| vec![p.name.clone(), p.version.clone(), p.arch.clone()]),
        );
    });
    section(&mut o, "Enabled services", &inv.services, |o, s| {
        table(
            o,
            &["unit", "state"],
            s.iter().map(|u| vec![u.name.clone(), u.state.clone()]),
        );
    });
    section(&mut o, "Network", &inv.network, |o, n| {
        table(
            o,
            &["interface", "MAC", "MTU", "state", "addresses"],
            n.interfaces.iter().map(|i| {
                vec![
                    i.name.clone(),
                    i.mac.clone(),
                    i.mtu.to_string(),
                    i.state.clone(),
                    i.addresses.join(" "),
                ]
            }),
        );
        table(
            o,
            &["route", "gateway", "dev", "table"],
            n.routes.iter().map(|r| {
                vec![
                    r.dst.clone(),
                    r.gateway.clone().unwrap_or_default(),
                    r.dev.clone(),
                    r.table.clone().unwrap_or_default(),
                ]
            }),
        );
        let _ = writeln!(
            o,
            "<p>DNS: {} (search {})</p>",
            esc(&n.nameservers.join(" ")),
            esc(&n.search.join(" "))
        );
        lines(o, &n.hosts);
        if let Some(fw) = &n.firewall {
            let _ = writeln!(o, "<h3>Firewall</h3><pre>{}</pre>", esc(fw));
        }
        let _ = writeln!(o, "<h3>sshd_config</h3>");
        lines(o, &n.sshd_config);
    });
    section(&mut o, "Users and groups", &inv.users, |o, u| {
        table(
            o,
            &["user", "uid", "gid", "home", "shell"],
            u.users.iter().map(|u| {
                vec![
                    u.name.clone(),
                    u.uid.to_string(),
                    u.gid.to_string(),
                    u.home.clone(),
                    u.shell.clone(),
                ]
            }),
        );
        table(
            o,
            &["group", "gid", "members"],
            u.groups
                .iter()
                .map(|g| vec![g.name.clone(), g.gid.to_string(), g.members.join(",")]),
        );
    });
    section(&mut o, "Scheduled jobs", &inv.scheduled, |o, s| {
        for (file, l) in &s.cron {
            let _ = writeln!(o, "<h3>{}</h3>", esc(file));
            lines(o, l);
        }
        table(
            o,
            &["timer", "state"],
            s.timers
                .iter()
                .map(|u| vec![u.name.clone(), u.state.clone()]),
        );
    });
    section(&mut o, "Mounts", &inv.mounts, |o, m| {
        let _ = writeln!(
            o,
            "<pre>{}</pre>",
            esc(&serde_json::to_string_pretty(m).unwrap_or_default())
        );
    });
    section(
        &mut o,
        "Kernel parameters (sysctl files)",
        &inv.sysctl,
        |o, s| {
            table(
                o,
                &["key", "configured", "current", "file"],
                s.iter().map(|x| {
                    vec![
                        x.key.clone(),
                        x.configured.clone(),
                        x.current.clone().unwrap_or_default(),
                        x.file.clone(),
                    ]
                }),
            );
        },
    );
    section(&mut o, "Time synchronisation", &inv.time_sync, |o, t| {
        table(
            o,
            &["", ""],
            t.timedatectl
                .iter()
                .map(|(k, v)| vec![k.clone(), v.clone()]),
        );
        let _ = writeln!(
            o,
            "<p>Servers: {} ({})</p>",
            esc(&t.servers.join(" ")),
            esc(&t.config_files.join(", "))
        );
    });
    o.push_str("</body></html>\n");
    o
}
