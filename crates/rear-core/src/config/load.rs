//! Loading (placeholder).
/// Options.
pub struct LoadOptions;
/// Loaded.
pub struct LoadedConfig;
/// A file.
pub struct SourcedFile;
/// Loads.
pub fn load() {}
