//! The pages: pure functions from data to HTML body text (the frame is [`super::page`]).

use rear_proto::api::{HostState, HostSummary, ReportSummary, StoredImage};
use similar::{ChangeTag, TextDiff};
use time::OffsetDateTime;

use super::{age, duration, esc, url_encode, url_segment, when};
use crate::store::{Facets, SearchHit, StoredReport};

fn state_badge(s: HostState) -> String {
    format!("<span class=\"state {0}\">{0}</span>", s.as_str())
}

fn result_badge(r: &ReportSummary) -> String {
    if r.success {
        "<span class=\"state ok\">success</span>".into()
    } else {
        "<span class=\"state failed\">failure</span>".into()
    }
}

fn tags(ts: &[String]) -> String {
    ts.iter()
        .map(|t| {
            format!(
                "<a class=\"tag\" href=\"/?tag={}\">{}</a>",
                url_encode(t),
                esc(t)
            )
        })
        .collect()
}

fn host_link(name: &str) -> String {
    format!("<a href=\"/hosts/{}\">{}</a>", url_segment(name), esc(name))
}

fn report_link(r: &ReportSummary, text: &str) -> String {
    format!("<a href=\"/reports/{}\">{}</a>", r.report_id, esc(text))
}

/// Current filter of the overview.
#[derive(Debug, Default)]
pub struct OverviewFilter {
    /// Domain filter.
    pub domain: Option<String>,
    /// Tag filter.
    pub tag: Option<String>,
    /// State filter.
    pub state: Option<HostState>,
    /// Page number, from 0.
    pub page: usize,
}

/// Hosts per overview page.
pub const PAGE_SIZE: usize = 100;

impl OverviewFilter {
    /// The query string of this filter on page `page`, escaped for an HTML attribute.
    fn query(&self, page: usize) -> String {
        let mut q = vec![format!("page={page}")];
        if let Some(d) = &self.domain {
            q.push(format!("domain={}", url_encode(d)));
        }
        if let Some(t) = &self.tag {
            q.push(format!("tag={}", url_encode(t)));
        }
        if let Some(s) = self.state {
            q.push(format!("state={}", s.as_str()));
        }
        q.join("&amp;")
    }
}

/// The overview: filters with counts on the side, the hosts table. `hosts` is the page to show
/// (already filtered, sorted and paged), `counts` the hosts of the domain/tag selection per state
/// (in the order of [`HostState::ALL`]).
pub fn overview(
    hosts: &[HostSummary],
    counts: &[u64; 4],
    facets: &Facets,
    filter: &OverviewFilter,
    now: OffsetDateTime,
) -> String {
    let mut side = String::from("<aside aria-label=\"Filters\">");
    let active = |on: bool| {
        if on {
            " aria-current=\"true\"><strong"
        } else {
            "><span"
        }
    };
    let close = |on: bool| if on { "</strong>" } else { "</span>" };
    side.push_str("<h2>State</h2><ul>");
    for (st, n) in HostState::ALL.into_iter().zip(counts) {
        let on = filter.state == Some(st);
        side.push_str(&format!(
            "<li><a href=\"/?state={0}\"{1}>{0}{2}</a> ({n})</li>",
            st.as_str(),
            active(on),
            close(on)
        ));
    }
    side.push_str("</ul><h2>Domains</h2><ul>");
    for d in &facets.domains {
        let label = if d.name.is_empty() {
            "(none)"
        } else {
            d.name.as_str()
        };
        let on = filter.domain.as_deref() == Some(d.name.as_str());
        side.push_str(&format!(
            "<li><a href=\"/?domain={}\"{}>{}{}</a> ({})</li>",
            url_encode(&d.name),
            active(on),
            esc(label),
            close(on),
            d.hosts
        ));
    }
    side.push_str("</ul><h2>Tags</h2><ul>");
    for t in &facets.tags {
        let on = filter.tag.as_deref() == Some(t.name.as_str());
        side.push_str(&format!(
            "<li><a href=\"/?tag={}\"{}>{}{}</a> ({})</li>",
            url_encode(&t.name),
            active(on),
            esc(&t.name),
            close(on),
            t.hosts
        ));
    }
    side.push_str("</ul></aside>");

    let total = usize::try_from(match filter.state {
        Some(st) => HostState::ALL
            .iter()
            .zip(counts)
            .find(|(s, _)| **s == st)
            .map_or(0, |(_, n)| *n),
        None => counts.iter().sum(),
    })
    .unwrap_or(usize::MAX);
    let first = filter.page * PAGE_SIZE;
    let mut rows = String::new();
    for h in hosts {
        let last = &h.last_report;
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            host_link(&h.hostname),
            esc(&h.domain),
            state_badge(h.state),
            report_link(last, &last.workflow),
            result_badge(last),
            age(Some(last.started_at), now),
            age(h.last_rescue_at, now),
            age(h.last_backup_at, now),
            tags(&h.tags),
        ));
    }
    let mut title = String::from("Hosts");
    if let Some(d) = &filter.domain {
        title.push_str(&format!(" in domain {}", esc(d)));
    }
    if let Some(t) = &filter.tag {
        title.push_str(&format!(" tagged {}", esc(t)));
    }
    if let Some(s) = filter.state {
        title.push_str(&format!(" ({})", s.as_str()));
    }
    let clear = if filter.domain.is_some() || filter.tag.is_some() || filter.state.is_some() {
        " <a href=\"/\">show all</a>"
    } else {
        ""
    };
    let mut pager = String::new();
    if total > PAGE_SIZE {
        let last = (first + PAGE_SIZE).min(total);
        pager.push_str(&format!(
            "<nav aria-label=\"Pages\"><p>Hosts {}-{last} of {}. ",
            (first + 1).min(last),
            total
        ));
        if filter.page > 0 {
            let q = filter.query(filter.page - 1);
            pager.push_str(&format!("<a href=\"/?{q}\">previous</a> "));
        }
        if last < total {
            let q = filter.query(filter.page + 1);
            pager.push_str(&format!("<a href=\"/?{q}\">next</a>"));
        }
        pager.push_str("</p></nav>");
    }
    format!(
        "<div class=\"layout\">{side}<section><h1>{title}: {}</h1>{clear}{pager}\
         <div class=\"wrap\"><table><thead><tr><th scope=\"col\">Host</th><th scope=\"col\">Domain</th>\
         <th scope=\"col\">State</th><th scope=\"col\">Last run</th><th scope=\"col\">Last report</th>\
         <th scope=\"col\">Rescue image</th><th scope=\"col\">Backup</th><th scope=\"col\">Tags</th></tr></thead>\
         <tbody>{rows}</tbody></table></div></section></div>",
        total
    )
}

/// Rows of the last-20 table (also served alone to the live page's poller).
pub fn live_rows(reports: &[ReportSummary], now: OffsetDateTime) -> String {
    reports
        .iter()
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                age(Some(r.received_at), now),
                host_link(&r.hostname),
                report_link(r, &r.workflow),
                result_badge(r),
                esc(r.error.as_deref().unwrap_or("")),
                r.source.as_str()
            )
        })
        .collect()
}

/// The live page: last 20 reports, refreshed every few seconds by a tiny inline script.
pub fn live(reports: &[ReportSummary], now: OffsetDateTime) -> String {
    format!(
        "<h1>Last 20 reports</h1><p id=\"live-status\" aria-live=\"polite\">Updates every 3 seconds.</p>\
         <div class=\"wrap\"><table><thead><tr><th scope=\"col\">Received</th><th scope=\"col\">Host</th>\
         <th scope=\"col\">Workflow</th><th scope=\"col\">Result</th><th scope=\"col\">Error</th>\
         <th scope=\"col\">Via</th></tr></thead><tbody id=\"live-rows\">{}</tbody></table></div>\
         <script>\
         setInterval(function(){{fetch('/live/rows',{{credentials:'same-origin'}})\
         .then(function(r){{if(!r.ok)throw r.status;return r.text()}})\
         .then(function(t){{document.getElementById('live-rows').innerHTML=t}})\
         .catch(function(e){{document.getElementById('live-status').textContent='Update failed ('+e+'), retrying.'}})}},3000);\
         </script>",
        live_rows(reports, now)
    )
}

/// Search form and hits.
pub fn search(query: &str, hits: &[SearchHit], now: OffsetDateTime) -> String {
    let mut body = format!(
        "<h1>Search</h1><form method=\"get\" action=\"/search\" role=\"search\">\
         <label for=\"q\">Hostnames, tags, layouts, inventory and logs</label>\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\"> <button type=\"submit\">Search</button></form>",
        esc(query)
    );
    if !query.trim().is_empty() {
        body.push_str(&format!("<p>{} result(s)</p><ul>", hits.len()));
        for h in hits {
            // The store marks matches with \u{2}..\u{3}; escape first, then turn them into <mark>.
            let snippet = esc(&h.snippet)
                .replace('\u{2}', "<mark>")
                .replace('\u{3}', "</mark>");
            body.push_str(&format!(
                "<li>{} {} {} ({})<br><small>{snippet}</small></li>",
                host_link(&h.report.hostname),
                report_link(&h.report, &h.report.workflow),
                result_badge(&h.report),
                age(Some(h.report.started_at), now)
            ));
        }
        body.push_str("</ul>");
    }
    body
}

/// A host: its state, reports over time, a diff chooser, the latest layout and log.
pub fn host(
    h: &HostSummary,
    reports: &[ReportSummary],
    latest: Option<&StoredReport>,
    previous_inventory: Option<&StoredReport>,
    now: OffsetDateTime,
) -> String {
    let drift = if h.drifted {
        format!(
            "<p class=\"note\" role=\"status\"><span class=\"state drifted\">drifted</span> The layout \
             changed since the last rescue image ({}): that image would recreate the old layout. \
             Run <code>rear mkrescue</code> on the host.</p>",
            age(h.last_rescue_at, now)
        )
    } else {
        String::new()
    };
    let inv_changes = match (latest, previous_inventory) {
        (Some(new), Some(old)) => format!(
            "<h2>Inventory changes</h2><p>Since {} ({}).</p>{}",
            report_link(&old.summary, &when(old.summary.started_at)),
            esc(&old.summary.workflow),
            inventory_changes(old, new)
        ),
        _ => String::new(),
    };
    let mut rows = String::new();
    let mut options = String::new();
    for r in reports {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            report_link(r, &when(r.started_at)),
            esc(&r.workflow),
            result_badge(r),
            duration(r.duration_ms),
            esc(r.error.as_deref().unwrap_or("")),
            r.source.as_str()
        ));
        options.push_str(&format!(
            "<option value=\"{}\">{} {}</option>",
            r.report_id,
            esc(&when(r.started_at)),
            esc(&r.workflow)
        ));
    }
    let (layout, log, inventory) =
        latest.map_or((String::new(), String::new(), String::new()), |s| {
            let inventory = if s.report.inventory.is_null() {
                "(no inventory in this report)".to_string()
            } else {
                serde_json::to_string_pretty(&s.report.inventory).unwrap_or_default()
            };
            (
                s.report.layout.clone().unwrap_or_default(),
                s.report.log_tail.clone(),
                inventory,
            )
        });
    let name = url_segment(&h.hostname);
    format!(
        "<h1>{}{}</h1><p>{} &middot; {} &middot; last report {} &middot; rescue image {} &middot; backup {} &middot; {} report(s)</p><p>{}</p>{drift}\
         <h2>Reports</h2><div class=\"wrap\"><table><thead><tr><th scope=\"col\">Started</th><th scope=\"col\">Workflow</th>\
         <th scope=\"col\">Result</th><th scope=\"col\">Duration</th><th scope=\"col\">Error</th><th scope=\"col\">Via</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>\
         <h2>Compare layouts</h2><form method=\"get\" action=\"/hosts/{name}/diff\">\
         <label for=\"a\">Older report</label><select id=\"a\" name=\"a\">{options}</select>\
         <label for=\"b\">Newer report</label><select id=\"b\" name=\"b\">{options}</select> \
         <button type=\"submit\">Show diff</button></form>\
         <h2>Layout (latest report)</h2>{}<h2>Log tail (latest report)</h2><pre>{}</pre>\
         {inv_changes}<h2>Inventory (latest report)</h2><pre>{}</pre>",
        esc(&h.hostname),
        if h.domain.is_empty() {
            String::new()
        } else {
            format!(".{}", esc(&h.domain))
        },
        state_badge(h.state),
        esc(&h.os),
        age(Some(h.last_report.started_at), now),
        age(h.last_rescue_at, now),
        age(h.last_backup_at, now),
        h.report_count,
        tags(&h.tags),
        if layout.is_empty() {
            "<p>(no layout in this report)</p>".into()
        } else {
            let tree = crate::layout_tree::tree_html(&layout);
            if tree.is_empty() {
                format!("<pre>{}</pre>", esc(&layout))
            } else {
                format!(
                    "{tree}<details><summary>Layout file</summary><pre>{}</pre></details>",
                    esc(&layout)
                )
            }
        },
        esc(&log),
        esc(&inventory),
    )
}

/// The host page's section of stored rescue images, each with its download link.
pub fn host_images(images: &[StoredImage], now: OffsetDateTime) -> String {
    if images.is_empty() {
        return "<h2>Rescue images</h2><p>No rescue image uploaded for this host.</p>".into();
    }
    let rows: String = images
        .iter()
        .map(|i| {
            format!(
                "<tr><td><a href=\"{}\" download=\"{}\">{}</a></td><td>{}</td><td>{}</td>\
                 <td><code>{}</code></td></tr>",
                esc(&i.download),
                esc(&i.name),
                esc(&i.name),
                i.size,
                age(Some(i.uploaded_at), now),
                esc(&i.sha256),
            )
        })
        .collect();
    format!(
        "<h2>Rescue images</h2><div class=\"wrap\"><table><thead><tr><th scope=\"col\">Download</th>\
         <th scope=\"col\">Bytes</th><th scope=\"col\">Uploaded</th><th scope=\"col\">SHA-256</th>\
         </tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

/// The inventory differences from `old` to `new` as HTML lists.
pub fn inventory_changes(old: &StoredReport, new: &StoredReport) -> String {
    let Some(d) = crate::inventory_diff::diff(&old.report.inventory, &new.report.inventory) else {
        return "<p>(one of the reports has no inventory)</p>".into();
    };
    if d.is_empty() {
        return "<p>No inventory changes.</p>".into();
    }
    let mut out = String::new();
    let mut list = |title: &str, items: Vec<String>| {
        if !items.is_empty() {
            out.push_str(&format!(
                "<h3>{title} ({})</h3><ul class=\"changes\">{}</ul>",
                items.len(),
                items.concat()
            ));
        }
    };
    let two = |v: &[(String, String)]| -> Vec<String> {
        v.iter()
            .map(|(a, b)| format!("<li>{} {}</li>", esc(a), esc(b)))
            .collect()
    };
    let three = |v: &[(String, String, String)]| -> Vec<String> {
        v.iter()
            .map(|(a, b, c)| format!("<li>{} {} &rarr; {}</li>", esc(a), esc(b), esc(c)))
            .collect()
    };
    list("Packages added", two(&d.packages_added));
    list("Packages removed", two(&d.packages_removed));
    list("Packages with another version", three(&d.packages_changed));
    list("Services added", two(&d.services_added));
    list("Services removed", two(&d.services_removed));
    list("Services with another state", three(&d.services_changed));
    list("Other sections changed", two(&d.sections_changed));
    out
}

/// A unified line diff of two layouts.
pub fn diff(host: &str, a: &StoredReport, b: &StoredReport) -> String {
    let old = a.report.layout.as_deref().unwrap_or("");
    let new = b.report.layout.as_deref().unwrap_or("");
    let diff = TextDiff::from_lines(old, new);
    let mut lines = String::new();
    let mut changes = 0;
    for change in diff.iter_all_changes() {
        let (class, sign) = match change.tag() {
            ChangeTag::Delete => ("del", '-'),
            ChangeTag::Insert => ("add", '+'),
            ChangeTag::Equal => ("", ' '),
        };
        if !class.is_empty() {
            changes += 1;
        }
        let text = esc(change.value().trim_end_matches('\n'));
        if class.is_empty() {
            lines.push_str(&format!("{sign} {text}\n"));
        } else {
            lines.push_str(&format!("<span class=\"{class}\">{sign} {text}</span>\n"));
        }
    }
    format!(
        "<h1>Layout changes of {}</h1><p>From {} ({}) to {} ({}): {changes} changed line(s).</p>\
         <p><a href=\"/hosts/{}\">back to the host</a></p><pre>{lines}</pre>\
         <h2>Inventory changes</h2>{}",
        host_link(host),
        report_link(&a.summary, &when(a.summary.started_at)),
        esc(&a.summary.workflow),
        report_link(&b.summary, &when(b.summary.started_at)),
        esc(&b.summary.workflow),
        url_segment(host),
        inventory_changes(a, b)
    )
}

/// One report in full.
pub fn report(s: &StoredReport) -> String {
    let r = &s.report;
    let files: String = r
        .output_files
        .iter()
        .map(|f| {
            format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&f.path),
                f.size,
                esc(&f.sha256)
            )
        })
        .collect();
    let image = r.image.as_ref().map_or(String::new(), |i| {
        let link = i.url.as_ref().map_or(String::new(), |u| {
            if u.starts_with("https://") || u.starts_with("http://") {
                format!(" <a href=\"{}\" rel=\"noopener\">download</a>", esc(u))
            } else {
                format!(" {}", esc(u))
            }
        });
        format!(
            "<h2>Rescue image</h2><p>{} ({} bytes, sha256 <code>{}</code>){link}</p>",
            esc(&i.name),
            i.size,
            esc(&i.sha256)
        )
    });
    let inventory = serde_json::to_string_pretty(&r.inventory).unwrap_or_default();
    format!(
        "<h1>{} on {}</h1><p>{} &middot; started {} &middot; took {} &middot; {} &middot; via {}{}</p>{}\
         <p>OS: {} {} &middot; kernel {} &middot; {}</p>\
         <h2>Output files</h2><div class=\"wrap\"><table><thead><tr><th scope=\"col\">File</th>\
         <th scope=\"col\">Bytes</th><th scope=\"col\">SHA-256</th></tr></thead><tbody>{files}</tbody></table></div>{image}\
         <h2>Layout</h2><pre>{}</pre><h2>Log tail</h2><pre>{}</pre><h2>Inventory</h2><pre>{}</pre>\
         <p>Report id <code>{}</code>, schema {}</p>",
        esc(&r.workflow),
        host_link(&r.hostname),
        result_badge(&s.summary),
        when(r.started_at),
        duration(r.duration_ms),
        esc(&r.rear_version),
        s.summary.source.as_str(),
        if s.summary.legacy_mail {
            " (ReaR result mail)"
        } else {
            ""
        },
        r.result.error().map_or(String::new(), |e| format!(
            "<p class=\"error\">{}</p>",
            esc(e)
        )),
        esc(&r.os.name),
        esc(&r.os.version),
        esc(&r.os.kernel),
        esc(&r.os.arch),
        esc(r.layout.as_deref().unwrap_or("(none)")),
        esc(&r.log_tail),
        esc(&inventory),
        r.report_id,
        esc(&r.schema_version),
    )
}

/// The login form.
pub fn login(csrf: &str, next: &str, error: Option<&str>) -> String {
    let err = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))
    });
    format!(
        "<h1>Log in</h1>{err}<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"username\">User name</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <p><button type=\"submit\">Log in</button></p></form>",
        esc(csrf),
        esc(next)
    )
}
