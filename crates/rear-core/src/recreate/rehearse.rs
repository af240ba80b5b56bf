//! Rehearsal: the partitioning and mkfs steps applied to sparse files on loop devices.
