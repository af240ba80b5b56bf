//! The built-in backup (BACKUP=NETFS): archive format, targets and restore.
