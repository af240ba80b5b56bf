//! Computing a [`Plan`] from a layout: exclusion, the dependency graph, a stable Kahn
//! topological sort, and one or more steps per component.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use super::commands::{Builder, target_path};
use super::{Plan, PlanOptions, PlannedDisk};
use crate::layout::model::{Component, Layout};
use crate::{Error, Result};

/// A node of the graph: creating a component, or mounting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Create(usize),
    Mount(usize),
}

/// Sort rank: among ready nodes the lowest rank goes first, then layout order. This groups
/// the plan by storage layer without ever overriding a dependency.
fn rank(c: &Component) -> u8 {
    match c {
        Component::Disk(_) | Component::Multipath(_) => 0,
        Component::Partition(_) => 1,
        Component::Raid(_) => 2,
        Component::Crypt(_) => 3,
        Component::Pv(_) => 4,
        Component::Vg(_) => 5,
        Component::Lv(_) => 6,
        Component::Filesystem(_) | Component::Swap(_) => 7,
        Component::BtrfsSubvol(_) => 8,
        Component::BtrfsMount(_) => 9,
        Component::Bootloader(_) | Component::EfiEntry(_) | Component::Foreign(_) => 10,
    }
}

/// Whether a component is recreated by the layout steps at all (the boot loader and EFI
/// entries are the bootloader stage's business).
fn is_storage(c: &Component) -> bool {
    !matches!(c, Component::Bootloader(_) | Component::EfiEntry(_))
}

/// Computes the recovery plan for `layout`. See the module documentation of
/// [`crate::recreate`].
///
/// # Errors
/// A reference to a component that is not in the layout, a dependency cycle (both naming the
/// components), or an included component this version cannot recreate.
pub fn plan(layout: &Layout, opts: &PlanOptions) -> Result<Plan> {
    let n = layout.entries.len();
    let deps = layout.dependencies();
    let ids: Vec<String> = layout.entries.iter().map(|e| e.component.id()).collect();

    // 1. what is skipped, and why
    let mut skipped: BTreeMap<usize, String> = BTreeMap::new();
    for (i, e) in layout.entries.iter().enumerate() {
        if let Some(reason) = &e.excluded {
            skipped.insert(i, format!("excluded ({reason})"));
        } else if opts.exclude_recreate.contains(&ids[i]) {
            skipped.insert(i, format!("excluded (EXCLUDE_RECREATE={})", ids[i]));
        } else if !is_storage(&e.component) {
            skipped.insert(
                i,
                "restored by the boot loader stage, not by the layout".into(),
            );
        } else if opts.partitions_and_filesystems_only && !rehearsable(layout, &e.component) {
            skipped.insert(i, "not rehearsed: needs md or device-mapper".into());
        } else if let Component::BtrfsSubvol(s) = &e.component
            && s.snapshot
        {
            skipped.insert(i, "btrfs snapshot: not recreated".into());
        } else if let Component::Swap(s) = &e.component
            && !s.dev.starts_with("/dev/")
        {
            skipped.insert(i, "swap file: comes back with the restored files".into());
        }
    }
    // everything that depends on a skipped component is skipped too
    let mut changed = true;
    while changed {
        changed = false;
        for (i, dep_list) in deps.iter().enumerate() {
            if skipped.contains_key(&i) {
                continue;
            }
            let parent = dep_list.iter().find_map(|d| match d {
                Ok(j) if skipped.contains_key(j) && is_storage(&layout.entries[*j].component) => {
                    Some(*j)
                }
                _ => None,
            });
            if let Some(j) = parent {
                // a mount nested under an excluded mount point still works (mkdir -p), so a
                // filesystem only loses its parent mount, not its own recreation
                let nesting_only =
                    matches!(
                        (&layout.entries[i].component, &layout.entries[j].component),
                        (
                            Component::Filesystem(_) | Component::BtrfsMount(_),
                            Component::Filesystem(_) | Component::BtrfsMount(_)
                        )
                    ) && !same_btrfs(&layout.entries[i].component, &layout.entries[j].component);
                if nesting_only {
                    continue;
                }
                skipped.insert(i, format!("depends on {}, which is not recreated", ids[j]));
                changed = true;
            }
        }
    }

    // 2. an included component that cannot be recreated, or that references something missing
    let mut problems = Vec::new();
    for i in 0..n {
        if skipped.contains_key(&i) {
            continue;
        }
        if let Component::Foreign(f) = &layout.entries[i].component {
            problems.push(format!(
                "{} (ReaR component '{}') cannot be recreated by this version; exclude it with EXCLUDE_RECREATE",
                ids[i], f.rear
            ));
        }
        for d in &deps[i] {
            if let Err(missing) = d {
                problems.push(format!(
                    "{} depends on {missing}, which is not in the layout",
                    ids[i]
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::invalid("disk layout", problems.join("; ")));
    }

    // 3. the graph over included components: create nodes, then mount nodes
    let included: Vec<usize> = (0..n).filter(|i| !skipped.contains_key(i)).collect();
    let mut nodes: Vec<Node> = included.iter().map(|&i| Node::Create(i)).collect();
    let mounts: BTreeMap<String, usize> = if opts.skip_mounts {
        BTreeMap::new()
    } else {
        included
            .iter()
            .filter_map(|&i| mount_point(&layout.entries[i].component).map(|m| (m.to_string(), i)))
            .collect()
    };
    nodes.extend(mounts.values().map(|&i| Node::Mount(i)));
    let index: BTreeMap<Node, usize> = nodes.iter().enumerate().map(|(k, n)| (*n, k)).collect();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()]; // node -> what it depends on
    for (k, node) in nodes.iter().enumerate() {
        match *node {
            Node::Create(i) => {
                for d in deps[i].iter().flatten() {
                    if let Some(&dk) = index.get(&Node::Create(*d)) {
                        edges[k].push(dk);
                    }
                }
            }
            Node::Mount(i) => {
                edges[k].push(index[&Node::Create(i)]);
                if let Some(parent) = mount_point(&layout.entries[i].component)
                    .and_then(|mp| parent_mount(mp, &mounts))
                {
                    edges[k].push(index[&Node::Mount(parent)]);
                }
            }
        }
    }
    let order = kahn(layout, &nodes, &edges)?;

    // 4. steps
    let mut builder = Builder::new(layout, opts);
    let mut steps = Vec::new();
    for k in order {
        match nodes[k] {
            Node::Create(i) if opts.mount_only => steps.extend(builder.activate_steps(i)?),
            Node::Create(i) => steps.extend(builder.create_steps(i)?),
            Node::Mount(i) => steps.extend(builder.mount_step(i)),
        }
    }
    // notes: the component's own, its partitions' (table steps) and its device's (mkfs steps)
    for step in &mut steps {
        if step.id.starts_with("mount:") {
            continue;
        }
        let mut keys = vec![step.component.clone()];
        if step.id.starts_with("disk:") || step.id.starts_with("table:") {
            keys.extend(step.wait_for.iter().cloned());
        }
        if let super::DoneCheck::Signature { dev, .. } = &step.done_check {
            keys.push(dev.clone());
        }
        keys.dedup();
        for k in keys {
            if let Some(notes) = opts.notes.get(&k) {
                step.notes.extend(notes.iter().map(|n| {
                    if k == step.component {
                        n.clone()
                    } else {
                        format!("{k}: {n}")
                    }
                }));
            }
        }
    }
    let disks = included
        .iter()
        .filter_map(|&i| match &layout.entries[i].component {
            Component::Disk(d) => Some(PlannedDisk {
                dev: d.dev.clone(),
                size: d.size,
            }),
            _ => None,
        })
        .collect();
    let _ = target_path;
    Ok(Plan {
        steps,
        disks,
        devices: builder.devices,
        skipped: skipped
            .into_iter()
            .filter(|(i, _)| is_storage(&layout.entries[*i].component))
            .map(|(i, why)| (ids[i].clone(), why))
            .collect(),
        target_root: opts.target_root.clone(),
        scratch_dir: opts.scratch_dir.clone(),
        mount_only: opts.mount_only,
    })
}

fn same_btrfs(a: &Component, b: &Component) -> bool {
    match (a, b) {
        (Component::BtrfsMount(m), Component::Filesystem(f)) => m.dev == f.dev,
        _ => false,
    }
}

/// What a rehearsal on loop devices can do: disks, partitions, and filesystems or swap on them.
fn rehearsable(layout: &Layout, c: &Component) -> bool {
    let on_disk_or_part = |dev: &str| {
        layout.components().any(|o| match o {
            Component::Disk(d) => d.dev == dev,
            Component::Partition(p) => p.dev == dev,
            _ => false,
        })
    };
    match c {
        Component::Disk(_) | Component::Partition(_) => true,
        Component::Filesystem(f) => on_disk_or_part(&f.dev),
        Component::Swap(s) => on_disk_or_part(&s.dev),
        Component::BtrfsSubvol(s) => on_disk_or_part(&s.dev),
        _ => false,
    }
}

fn mount_point(c: &Component) -> Option<&str> {
    match c {
        Component::Filesystem(f) => f.mountpoint.as_deref(),
        Component::BtrfsMount(m) => Some(&m.mountpoint),
        _ => None,
    }
}

/// The nearest mounted ancestor of `mp`.
fn parent_mount(mp: &str, mounts: &BTreeMap<String, usize>) -> Option<usize> {
    let mut path = std::path::Path::new(mp);
    while let Some(parent) = path.parent() {
        if let Some(&i) = parent.to_str().and_then(|p| mounts.get(p)) {
            return Some(i);
        }
        path = parent;
    }
    None
}

/// Kahn's algorithm; among ready nodes the one with the lowest (mount?, rank, layout index)
/// goes first, so the order is stable and grouped by layer. Leftover nodes form a cycle, which
/// is reported by name.
fn kahn(layout: &Layout, nodes: &[Node], edges: &[Vec<usize>]) -> Result<Vec<usize>> {
    let key = |k: usize| match nodes[k] {
        Node::Create(i) => (0u8, rank(&layout.entries[i].component), i),
        Node::Mount(i) => (1u8, 0, i),
    };
    let mut indegree: Vec<usize> = edges
        .iter()
        .map(|e| e.iter().collect::<BTreeSet<_>>().len())
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (k, list) in edges.iter().enumerate() {
        for &d in list.iter().collect::<BTreeSet<_>>() {
            dependents[d].push(k);
        }
    }
    type Ready = BinaryHeap<Reverse<((u8, u8, usize), usize)>>;
    let mut ready: Ready = (0..nodes.len())
        .filter(|&k| indegree[k] == 0)
        .map(|k| Reverse((key(k), k)))
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse((_, k))) = ready.pop() {
        order.push(k);
        for &d in &dependents[k] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.push(Reverse((key(d), d)));
            }
        }
    }
    if order.len() < nodes.len() {
        let names: Vec<String> = (0..nodes.len())
            .filter(|k| indegree[*k] > 0)
            .map(|k| match nodes[k] {
                Node::Create(i) => layout.entries[i].component.id(),
                Node::Mount(i) => format!("mount of {}", layout.entries[i].component.id()),
            })
            .collect();
        return Err(Error::invalid(
            "disk layout",
            format!("dependency cycle among: {}", names.join(", ")),
        ));
    }
    Ok(order)
}
