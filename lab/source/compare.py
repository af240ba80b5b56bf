#!/usr/bin/env python3
"""Compares the facts of a lab machine before its backup and after its recovery.

Usage: compare.py [--sizes-may-differ] BEFORE_DIR AFTER_DIR

The directories are written by lab/source/facts.sh in the booted source machine and in the
booted recovered machine. The lab's own disks (labels LABHOOK and REAR-000) and CD-ROMs are left
out. Prints one line per check ("ok ..." or "DIFF ..."), exits 1 when anything differs.
With --sizes-may-differ (a migration to other disk sizes) sizes of disks, partitions and LVs are
not compared, everything else is.
"""

import json
import os
import sys

LAB_LABELS = {"LABHOOK", "REAR-000"}
problems = []


def read(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p, encoding="utf-8", errors="replace") as f:
        return f.read()


def load_json(d, name):
    t = read(d, name)
    if not t:
        return None
    return json.loads(t)


def check(what, before, after):
    if before == after:
        print(f"ok   {what}")
    else:
        problems.append(what)
        print(f"DIFF {what}")
        print(f"     before: {before!r}")
        print(f"     after:  {after!r}")


def lsblk_devices(d, sizes):
    """name -> identity fields, for every device except the lab's disks and CD-ROMs."""
    data = load_json(d, "lsblk.json")
    if data is None:
        return None
    out = {}

    def lab_disk(node):
        if node.get("label") in LAB_LABELS:
            return True
        return any(lab_disk(c) for c in node.get("children") or [])

    def walk(node):
        fields = ["type", "fstype", "uuid", "label", "partuuid", "partlabel", "parttype", "pttype", "ptuuid"]
        if sizes:
            fields.append("size")
        out[node["name"]] = {k: node.get(k) for k in fields}
        for c in node.get("children") or []:
            walk(c)

    for top in data.get("blockdevices", []):
        if top.get("type") == "rom" or lab_disk(top):
            continue
        walk(top)
    return out


def lvm(d, name, key, fields):
    data = load_json(d, name)
    if data is None:
        return None
    rows = data["report"][0][key]
    return sorted(tuple(r.get(f) for f in fields) for r in rows)


def mounts(d):
    data = load_json(d, "findmnt.json")
    if data is None:
        return None
    out = []

    def walk(n):
        if not n["target"].startswith("/mnt/hook"):
            out.append((n["target"], n["source"], n["fstype"]))
        for c in n.get("children") or []:
            walk(c)

    for n in data["filesystems"]:
        walk(n)
    return sorted(out)


def main():
    args = sys.argv[1:]
    sizes = True
    if args and args[0] == "--sizes-may-differ":
        sizes = False
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    before, after = args
    for f in ["failures.txt"]:
        t = read(after, f)
        if t:
            print(f"note facts.sh in the recovered system could not run: {t.strip()}")
    check("hostname", read(before, "hostname"), read(after, "hostname"))
    check("boot firmware", read(before, "firmware"), read(after, "firmware"))
    check("marker tree checksums", read(before, "marker.sha256"), read(after, "marker.sha256"))
    check("marker tree owners, modes, sizes, times, links", read(before, "marker.stat"), read(after, "marker.stat"))
    check("/etc/fstab", read(before, "fstab"), read(after, "fstab"))
    check("/etc/crypttab", read(before, "crypttab"), read(after, "crypttab"))
    check("/etc/mdadm/mdadm.conf", read(before, "mdadm.conf"), read(after, "mdadm.conf"))
    b, a = lsblk_devices(before, sizes), lsblk_devices(after, sizes)
    if b is None:
        problems.append("lsblk.json missing before")
    for name in sorted(set(b or {}) | set(a or {})):
        check(f"block device {name}", (b or {}).get(name), (a or {}).get(name))
    check("mounted filesystems (target, source, type)", mounts(before), mounts(after))
    swap = lambda d: sorted(l.split()[0:2] for l in (read(d, "swapon.txt") or "").splitlines()[1:])
    check("active swap", swap(before), swap(after))
    pv_f = ["pv_name", "vg_name", "pv_uuid"] + (["pv_size"] if sizes else [])
    lv_f = ["lv_name", "vg_name", "lv_uuid", "segtype", "lv_size"]
    check("LVM physical volumes", lvm(before, "pvs.json", "pv", pv_f), lvm(after, "pvs.json", "pv", pv_f))
    check("LVM volume groups", lvm(before, "vgs.json", "vg", ["vg_name", "vg_uuid", "vg_extent_size"]),
          lvm(after, "vgs.json", "vg", ["vg_name", "vg_uuid", "vg_extent_size"]))
    check("LVM logical volumes", lvm(before, "lvs.json", "lv", lv_f), lvm(after, "lvs.json", "lv", lv_f))
    check("md arrays (mdadm --detail --scan)", read(before, "mdadm-detail-scan.txt"), read(after, "mdadm-detail-scan.txt"))
    failed = (read(after, "failed-units.txt") or "").strip()
    check("failed systemd units after recovery", "", failed)
    if (read(after, "firmware") or "").strip() == "uefi":
        efi = read(after, "efibootmgr.txt") or ""
        current = next((l.split()[1] for l in efi.splitlines() if l.startswith("BootCurrent:")), None)
        entry = next((l for l in efi.splitlines() if current and l.startswith(f"Boot{current}")), "")
        check("UEFI booted through an entry for the recovered ESP (BootCurrent)",
              True, "HD(" in entry and "EFI" in entry.upper())
        print(f"     {entry.strip()}")
    if problems:
        print(f"{len(problems)} difference(s): " + "; ".join(problems))
        sys.exit(1)
    print("the recovered system matches the source")


if __name__ == "__main__":
    main()
