# (f) Migration to a bigger disk: the source machine of bios-gpt-ext4 (one 3 GiB disk) is
# recovered onto a 4.5 GiB disk. rear recover maps the disk and grows the partitions
# proportionally; UUIDs, labels and files stay, sizes differ.

# --- recovery (lab/recover.sh; not part of the build key) ---
REC_SOURCE=bios-gpt-ext4
REC_DISKS=(4608M)
REC_COMPARE=--sizes-may-differ
