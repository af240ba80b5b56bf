//! Migration: mapping the layout's disks onto the disks present, renaming devices, resizing.
