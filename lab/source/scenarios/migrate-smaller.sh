# (f) Migration to a smaller disk that still fits: the source machine of bios-gpt-ext4 (one
# 3 GiB disk, about 700 MB used) is recovered onto a 2.5 GiB disk; the partitions shrink
# proportionally.

# --- recovery (lab/recover.sh; not part of the build key) ---
REC_SOURCE=bios-gpt-ext4
REC_DISKS=(2560M)
REC_COMPARE=--sizes-may-differ
# ReaR's rule, kept: only up to AUTOSHRINK_DISK_SIZE_LIMIT_PERCENTAGE (2%) smaller is shrunk
# without being asked; the admin allows proportional shrinking (without it, recover stops before
# touching a disk and says which variable to set; seen in the first run of this scenario).
REC_CONF="AUTORESIZE_PARTITIONS=true"
