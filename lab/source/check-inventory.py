#!/usr/bin/env python3
"""Checks the inventory `rear mkbackup` collected inside a lab source machine.

Usage: check-inventory.py INVENTORY_JSON HOSTNAME

The source machines are Debian 12 with the cloud kernel and the packages of
lab/source/packages.txt: the inventory must name the host, report the OS and kernel, list those
packages and the enabled services, and mark every section ok or unavailable (never missing).
Prints what it checked; exits 1 on the first problem.
"""

import json
import sys


def fail(msg):
    print(f"inventory check FAILED: {msg}")
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, hostname = sys.argv[1:]
    try:
        with open(path, encoding="utf-8") as f:
            inv = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    if inv.get("hostname") != hostname:
        fail(f"hostname {inv.get('hostname')!r}, expected {hostname!r}")
    for name in ["hardware", "os", "packages", "services", "network", "users", "mounts"]:
        status = (inv.get(name) or {}).get("status")
        if status not in ("ok", "unavailable"):
            fail(f"section {name}: status {status!r}")
    os_data = inv["os"].get("data") or {}
    if "bookworm" not in str(os_data.get("distribution")) or "cloud-amd64" not in str(os_data.get("kernel")):
        fail(f"os section: {os_data.get('distribution')!r}, kernel {os_data.get('kernel')!r}")
    names = {p.get("name") for p in inv["packages"].get("data") or []}
    for wanted in ["lvm2", "mdadm", "grub-pc", "xorriso", "systemd-sysv"]:
        if wanted not in names:
            fail(f"package {wanted} not in the inventory's {len(names)} packages")
    services = inv["services"].get("data") or []
    if not services:
        fail("no enabled services")
    print(f"inventory ok: {hostname}, {os_data.get('distribution')}, kernel {os_data.get('kernel')}, "
          f"{len(names)} packages, {len(services)} services")


if __name__ == "__main__":
    main()
