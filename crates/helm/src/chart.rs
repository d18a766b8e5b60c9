//! A loaded chart, as Helm's `pkg/chart.Chart` holds it: metadata, the
//! templates, the default values, the schema, every other file (for
//! `.Files` and `crds/`) and the subcharts found under `charts/`.

use flotilla_template::Value;

use crate::metadata::{ChartMetadata, Dependency};

/// One file of a chart, by its path relative to the chart's root
/// (`templates/deployment.yaml`, `crds/crd.yaml`, `config/app.conf`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartFile {
    /// Path relative to the chart root, `/`-separated.
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
}

/// `Chart.lock` (or v1 `requirements.lock`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lock {
    /// `generated`, as written.
    pub generated: String,
    /// `digest`.
    pub digest: String,
    /// `dependencies`, pinned.
    pub dependencies: Vec<Dependency>,
}

/// A chart and its subcharts.
#[derive(Clone, Debug)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: ChartMetadata,
    /// `Chart.lock`, if present.
    pub lock: Option<Lock>,
    /// Files under `templates/`, in the order Helm loads them (sorted by name).
    pub templates: Vec<ChartFile>,
    /// `values.yaml`, parsed as Helm reads it (`sigs.k8s.io/yaml`: numbers
    /// are `float64`). An empty map when the chart has none.
    pub values: Value,
    /// `values.yaml` as written (Helm keeps it for `helm show values`).
    pub raw_values: Option<String>,
    /// `values.schema.json`, as written.
    pub schema: Option<Vec<u8>>,
    /// Every other file (what `.Files` sees, `crds/` included), sorted by name.
    pub files: Vec<ChartFile>,
    /// Subcharts from `charts/` (directories or archives), in load order.
    pub dependencies: Vec<Chart>,
    /// Where the chart was loaded from, for error messages
    /// (a directory, an archive's file name, `repo@commit:path`).
    pub origin: String,
}
