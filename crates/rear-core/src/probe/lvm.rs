//! Parser for LVM's JSON reports: `lvm fullreport`, `pvs`, `vgs` and `lvs -a` with
//! `--reportformat json --units b --nosuffix`.
//!
//! LVM prints every value as a string; sizes are bytes because of `--units b --nosuffix`.
//! Columns are looked up by name, so any `-o` selection that includes the needed ones works.
//! Hidden LVs (`[pool_tdata]`, `[lvol0_pmspare]`, `[lv_rimage_0]`) are internal parts of a
//! visible LV and are skipped.

use serde::Serialize;
use serde_json::Value;

use crate::{Error, Result};

/// A physical volume.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LvmPv {
    /// pv_name.
    pub name: String,
    /// vg_name (empty for an orphan PV).
    pub vg: Option<String>,
    /// pv_uuid.
    pub uuid: Option<String>,
    /// pv_size in bytes.
    pub size: Option<u64>,
}

/// A volume group.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LvmVg {
    /// vg_name.
    pub name: String,
    /// vg_uuid.
    pub uuid: Option<String>,
    /// vg_extent_size in bytes.
    pub extent_size: Option<u64>,
    /// vg_extent_count.
    pub extent_count: Option<u64>,
    /// vg_size in bytes.
    pub size: Option<u64>,
}

/// A logical volume.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LvmLv {
    /// lv_name.
    pub name: String,
    /// vg_name.
    pub vg: String,
    /// lv_uuid.
    pub uuid: Option<String>,
    /// lv_size in bytes.
    pub size: Option<u64>,
    /// lv_layout (`linear`, `striped`, `thin,pool`, `thin,sparse`, `raid,raid1`, `mirror`).
    pub layout: Option<String>,
    /// segtype of the first segment.
    pub segtype: Option<String>,
    /// stripes.
    pub stripes: Option<u32>,
    /// stripe_size in bytes.
    pub stripe_size: Option<u64>,
    /// pool_lv (thin volumes).
    pub pool: Option<String>,
    /// lv_metadata_size in bytes (thin pools).
    pub metadata_size: Option<u64>,
    /// chunk_size in bytes (thin pools).
    pub chunk_size: Option<u64>,
}

/// Everything the reports contained.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LvmReport {
    /// PVs.
    pub pvs: Vec<LvmPv>,
    /// VGs.
    pub vgs: Vec<LvmVg>,
    /// Visible LVs.
    pub lvs: Vec<LvmLv>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn n(v: &Value, k: &str) -> Option<u64> {
    s(v, k).and_then(|x| x.trim_end_matches('B').parse().ok())
}

impl LvmReport {
    /// Adds the rows of one JSON report (`fullreport`, `pvs`, `vgs` or `lvs`). Rows already
    /// known (same PV name, VG name, or VG/LV name) are merged, filling missing values.
    pub fn add_json(&mut self, text: &str, command: &str) -> Result<()> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            Error::invalid(
                format!("output of '{command}'"),
                format!("not the JSON LVM writes: {e}"),
            )
        })?;
        let reports = v.get("report").and_then(Value::as_array).ok_or_else(|| {
            Error::invalid(format!("output of '{command}'"), "no \"report\" array")
        })?;
        let rows = |key: &str| -> Vec<&Value> {
            reports
                .iter()
                .filter_map(|r| r.get(key).and_then(Value::as_array))
                .flatten()
                .collect()
        };
        for r in rows("pv") {
            let Some(name) = s(r, "pv_name") else {
                continue;
            };
            let pv = LvmPv {
                name,
                vg: s(r, "vg_name"),
                uuid: s(r, "pv_uuid"),
                size: n(r, "pv_size"),
            };
            match self.pvs.iter_mut().find(|p| p.name == pv.name) {
                Some(p) => {
                    p.vg = p.vg.take().or(pv.vg);
                    p.uuid = p.uuid.take().or(pv.uuid);
                    p.size = p.size.or(pv.size);
                }
                None => self.pvs.push(pv),
            }
        }
        for r in rows("vg") {
            let Some(name) = s(r, "vg_name") else {
                continue;
            };
            let vg = LvmVg {
                name,
                uuid: s(r, "vg_uuid"),
                extent_size: n(r, "vg_extent_size"),
                extent_count: n(r, "vg_extent_count"),
                size: n(r, "vg_size"),
            };
            match self.vgs.iter_mut().find(|g| g.name == vg.name) {
                Some(g) => {
                    g.uuid = g.uuid.take().or(vg.uuid);
                    g.extent_size = g.extent_size.or(vg.extent_size);
                    g.extent_count = g.extent_count.or(vg.extent_count);
                    g.size = g.size.or(vg.size);
                }
                None => self.vgs.push(vg),
            }
        }
        // segments (fullreport "seg", or lvs --segments) carry segtype/stripes per LV UUID
        let segs = rows("seg");
        for r in rows("lv") {
            let (Some(name), Some(vg)) = (
                s(r, "lv_name"),
                s(r, "vg_name").or_else(|| {
                    s(r, "lv_full_name").and_then(|f| f.split_once('/').map(|(v, _)| v.to_string()))
                }),
            ) else {
                continue;
            };
            if name.starts_with('[') {
                continue;
            }
            let uuid = s(r, "lv_uuid");
            let seg = segs
                .iter()
                .find(|sg| uuid.is_some() && s(sg, "lv_uuid") == uuid);
            let pick = |k: &str| s(r, k).or_else(|| seg.and_then(|sg| s(sg, k)));
            let pick_n = |k: &str| n(r, k).or_else(|| seg.and_then(|sg| n(sg, k)));
            let lv = LvmLv {
                name,
                vg,
                uuid: uuid.clone(),
                size: n(r, "lv_size"),
                layout: s(r, "lv_layout"),
                segtype: pick("segtype"),
                stripes: pick_n("stripes").and_then(|x| u32::try_from(x).ok()),
                stripe_size: pick_n("stripe_size"),
                pool: s(r, "pool_lv").map(|p| p.trim_matches(|c| c == '[' || c == ']').to_string()),
                metadata_size: n(r, "lv_metadata_size"),
                chunk_size: pick_n("chunk_size"),
            };
            match self
                .lvs
                .iter_mut()
                .find(|l| l.vg == lv.vg && l.name == lv.name)
            {
                Some(l) => {
                    l.uuid = l.uuid.take().or(lv.uuid);
                    l.size = l.size.or(lv.size);
                    l.layout = l.layout.take().or(lv.layout);
                    l.segtype = l.segtype.take().or(lv.segtype);
                    l.stripes = l.stripes.or(lv.stripes);
                    l.stripe_size = l.stripe_size.or(lv.stripe_size);
                    l.pool = l.pool.take().or(lv.pool);
                    l.metadata_size = l.metadata_size.or(lv.metadata_size);
                    l.chunk_size = l.chunk_size.or(lv.chunk_size);
                }
                None => self.lvs.push(lv),
            }
        }
        Ok(())
    }
}

/// Parses one LVM JSON report.
pub fn parse_lvm_json(text: &str) -> Result<LvmReport> {
    let mut r = LvmReport::default();
    r.add_json(text, "lvm")?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Synthetic, in the shape LVM 2.03 prints (the host kernel has no device-mapper; real
    // captures come from the lab guest under fixtures/layouts/).
    const LVS: &str = r#"{"report": [{"lv": [
        {"lv_name":"root", "vg_name":"vg0", "lv_uuid":"u1", "lv_size":"1073741824", "lv_layout":"linear", "pool_lv":"", "lv_metadata_size":"", "chunk_size":"0", "stripes":"1", "stripe_size":"0"},
        {"lv_name":"pool", "vg_name":"vg0", "lv_uuid":"u2", "lv_size":"536870912", "lv_layout":"thin,pool", "pool_lv":"", "lv_metadata_size":"4194304", "chunk_size":"65536", "stripes":"1", "stripe_size":"0"},
        {"lv_name":"[pool_tdata]", "vg_name":"vg0", "lv_uuid":"u3", "lv_size":"536870912", "lv_layout":"linear"},
        {"lv_name":"thin1", "vg_name":"vg0", "lv_uuid":"u4", "lv_size":"2147483648", "lv_layout":"thin,sparse", "pool_lv":"pool", "stripes":"0"}
    ]}], "log": []}"#;

    #[test]
    fn hidden_lvs_skipped_and_thin_fields() {
        let r = parse_lvm_json(LVS).unwrap();
        assert_eq!(r.lvs.len(), 3);
        assert_eq!(r.lvs[1].metadata_size, Some(4_194_304));
        assert_eq!(r.lvs[2].pool.as_deref(), Some("pool"));
    }

    #[test]
    fn parse_lvs_lab_linear_striped_thin() {
        // real capture from the lab guest (fixtures/layouts/lvm-linear-striped-thin)
        let mut r = LvmReport::default();
        for (file, cmd) in [
            (
                include_str!("../../../../fixtures/layouts/lvm-linear-striped-thin/pvs.json"),
                "pvs",
            ),
            (
                include_str!("../../../../fixtures/layouts/lvm-linear-striped-thin/vgs.json"),
                "vgs",
            ),
            (
                include_str!("../../../../fixtures/layouts/lvm-linear-striped-thin/lvs.json"),
                "lvs",
            ),
        ] {
            r.add_json(file, cmd).unwrap();
        }
        insta::assert_json_snapshot!(r);
    }

    #[test]
    fn truncated_report_is_an_error() {
        let err = parse_lvm_json(&LVS[..100]).unwrap_err().to_string();
        assert!(err.contains("line"), "{err}");
    }
}
