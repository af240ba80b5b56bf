//! Network facts recorded at build time and replayed by the rescue init.
//!
//! Contract: [`probe_network`] reads `ip -j addr show` and `ip -j route show` through the runner
//! and keeps the physical Ethernet interfaces with their MAC, MTU and global addresses, and the
//! routes over them. The facts go into the image as JSON (`/etc/rear/rescue-network.json`). At boot,
//! [`plan_network`] maps each recorded interface to the interface that now has the same MAC (or,
//! when exactly one recorded and one present interface remain unmatched, to that one) and returns
//! the `ip` commands that recreate addresses and routes. When nothing can be mapped, the init falls
//! back to DHCP.

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::cmd::{Cmd, Runner, tools};

/// One interface as recorded on the source system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Its name on the source system.
    pub name: String,
    /// Its MAC address (lowercase).
    pub mac: String,
    /// Its MTU.
    pub mtu: u32,
    /// Global addresses in CIDR form (`192.0.2.2/24`, `fd00::2/64`).
    pub addresses: Vec<String>,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// `default` or a prefix.
    pub dst: String,
    /// The gateway, if any.
    pub gateway: Option<String>,
    /// The interface name on the source system.
    pub dev: String,
}

/// The network facts of the source system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFacts {
    /// Ethernet interfaces that were up, with addresses.
    pub interfaces: Vec<Interface>,
    /// Static routes (kernel-made prefix routes are left out; `ip addr add` recreates them).
    pub routes: Vec<Route>,
    /// Name servers from `/etc/resolv.conf`.
    pub nameservers: Vec<String>,
    /// Use DHCP instead of the recorded addresses (`USE_DHCLIENT`).
    pub use_dhcp: bool,
    /// `NETWORKING_PREPARATION_COMMANDS`: bash commands run before the network is set up; a
    /// command that is just `return` ends the network setup there (as in ReaR).
    #[serde(default)]
    pub preparation_commands: Vec<String>,
}

#[derive(Deserialize)]
struct IpLink {
    ifname: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    mtu: u32,
    #[serde(default)]
    link_type: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    addr_info: Vec<IpAddr>,
}

#[derive(Deserialize)]
struct IpAddr {
    family: String,
    local: String,
    prefixlen: u32,
    #[serde(default)]
    scope: String,
}

#[derive(Deserialize)]
struct IpRoute {
    dst: String,
    gateway: Option<String>,
    dev: Option<String>,
    #[serde(default)]
    protocol: String,
}

/// Parses `ip -j addr show` and `ip -j route show` output.
pub fn parse_ip_json(addr: &str, route: &str) -> Result<NetworkFacts> {
    let bad = |what: &str, e: serde_json::Error| {
        crate::Error::invalid(format!("output of 'ip -j {what} show'"), e.to_string())
    };
    let links: Vec<IpLink> = serde_json::from_str(addr).map_err(|e| bad("addr", e))?;
    let routes: Vec<IpRoute> = serde_json::from_str(route).map_err(|e| bad("route", e))?;
    let interfaces: Vec<Interface> = links
        .into_iter()
        .filter(|l| l.link_type == "ether" && l.flags.iter().any(|f| f == "UP"))
        .map(|l| Interface {
            name: l.ifname,
            mac: l.address.to_lowercase(),
            mtu: l.mtu,
            addresses: l
                .addr_info
                .iter()
                .filter(|a| a.scope == "global" && (a.family == "inet" || a.family == "inet6"))
                .map(|a| format!("{}/{}", a.local, a.prefixlen))
                .collect(),
        })
        .filter(|i| !i.addresses.is_empty())
        .collect();
    let routes = routes
        .into_iter()
        .filter(|r| r.protocol != "kernel")
        .filter_map(|r| {
            let dev = r.dev?;
            interfaces.iter().any(|i| i.name == dev).then_some(Route {
                dst: r.dst,
                gateway: r.gateway,
                dev,
            })
        })
        .collect();
    Ok(NetworkFacts {
        interfaces,
        routes,
        nameservers: Vec::new(),
        use_dhcp: false,
        preparation_commands: Vec::new(),
    })
}

/// Parses the `nameserver` lines of a resolv.conf.
pub fn parse_nameservers(resolv_conf: &str) -> Vec<String> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next().map(str::to_string))
                .flatten()
        })
        .collect()
}

/// Records the network of the running system.
pub fn probe_network(runner: &dyn Runner) -> Result<NetworkFacts> {
    let addr = Cmd::probe(tools::IP)
        .args(["-j", "addr", "show"])
        .describe("recording network addresses for the rescue system")
        .output_string(runner)?;
    let route = Cmd::probe(tools::IP)
        .args(["-j", "route", "show"])
        .describe("recording routes for the rescue system")
        .output_string(runner)?;
    let mut facts = parse_ip_json(&addr, &route)?;
    facts.nameservers =
        parse_nameservers(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
    Ok(facts)
}

/// An interface present at rescue boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentNic {
    /// Its name now.
    pub name: String,
    /// Its MAC now (lowercase).
    pub mac: String,
}

/// The `ip` argument lists that recreate the recorded network on the interfaces present now, and
/// the recorded interfaces that could not be mapped.
pub fn plan_network(
    facts: &NetworkFacts,
    present: &[PresentNic],
) -> (Vec<Vec<String>>, Vec<String>) {
    let mut map: Vec<(String, String)> = Vec::new(); // (recorded name, present name)
    let mut unmapped: Vec<&Interface> = Vec::new();
    for i in &facts.interfaces {
        match present.iter().find(|p| p.mac == i.mac) {
            Some(p) => map.push((i.name.clone(), p.name.clone())),
            None => unmapped.push(i),
        }
    }
    let free: Vec<&PresentNic> = present
        .iter()
        .filter(|p| !map.iter().any(|(_, n)| n == &p.name))
        .collect();
    if unmapped.len() == 1 && free.len() == 1 {
        map.push((unmapped[0].name.clone(), free[0].name.clone()));
        unmapped.clear();
    }
    let mut cmds = Vec::new();
    for i in &facts.interfaces {
        let Some((_, now)) = map.iter().find(|(rec, _)| rec == &i.name) else {
            continue;
        };
        let s = |x: &str| x.to_string();
        cmds.push(vec![
            s("link"),
            s("set"),
            now.clone(),
            s("mtu"),
            i.mtu.to_string(),
            s("up"),
        ]);
        for a in &i.addresses {
            cmds.push(vec![s("addr"), s("add"), a.clone(), s("dev"), now.clone()]);
        }
    }
    for r in &facts.routes {
        let Some((_, now)) = map.iter().find(|(rec, _)| rec == &r.dev) else {
            continue;
        };
        let mut c = vec!["route".to_string(), "replace".into(), r.dst.clone()];
        if let Some(g) = &r.gateway {
            c.extend(["via".to_string(), g.clone()]);
        }
        c.extend(["dev".to_string(), now.clone()]);
        cmds.push(c);
    }
    (cmds, unmapped.iter().map(|i| i.name.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: &str = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]},{"ifindex":2,"ifname":"ifb0","flags":["BROADCAST","NOARP"],"mtu":1500,"link_type":"ether","address":"72:7e:65:4e:c0:aa","addr_info":[]},{"ifindex":4,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1400,"link_type":"ether","address":"02:FC:00:00:00:01","addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24,"scope":"global"},{"family":"inet6","local":"fd00::2","prefixlen":64,"scope":"global"},{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}]"#;
    const ROUTE: &str = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},{"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.2","flags":[]}]"#;

    #[test]
    fn parses_ip_json_and_plans_by_mac() {
        let f = parse_ip_json(ADDR, ROUTE).unwrap();
        assert_eq!(f.interfaces.len(), 1);
        assert_eq!(f.interfaces[0].mac, "02:fc:00:00:00:01");
        assert_eq!(
            f.interfaces[0].addresses,
            vec!["192.0.2.2/24", "fd00::2/64"]
        );
        assert_eq!(f.routes.len(), 1);
        let present = vec![
            PresentNic {
                name: "enp0s3".into(),
                mac: "52:54:00:12:34:56".into(),
            },
            PresentNic {
                name: "ens4".into(),
                mac: "02:fc:00:00:00:01".into(),
            },
        ];
        let (cmds, unmapped) = plan_network(&f, &present);
        assert!(unmapped.is_empty());
        assert_eq!(cmds[0], ["link", "set", "ens4", "mtu", "1400", "up"]);
        assert_eq!(cmds[1], ["addr", "add", "192.0.2.2/24", "dev", "ens4"]);
        assert_eq!(
            cmds[3],
            [
                "route",
                "replace",
                "default",
                "via",
                "192.0.2.1",
                "dev",
                "ens4"
            ]
        );
    }

    #[test]
    fn single_unknown_nic_is_mapped_to_the_single_free_one() {
        let f = parse_ip_json(ADDR, ROUTE).unwrap();
        let present = vec![PresentNic {
            name: "eth0".into(),
            mac: "52:54:00:12:34:56".into(),
        }];
        let (cmds, unmapped) = plan_network(&f, &present);
        assert!(unmapped.is_empty());
        assert_eq!(cmds[1], ["addr", "add", "192.0.2.2/24", "dev", "eth0"]);
        let two = vec![
            PresentNic {
                name: "a".into(),
                mac: "1".into(),
            },
            PresentNic {
                name: "b".into(),
                mac: "2".into(),
            },
        ];
        let (cmds, unmapped) = plan_network(&f, &two);
        assert!(cmds.is_empty());
        assert_eq!(unmapped, vec!["eth0"]);
    }
}
