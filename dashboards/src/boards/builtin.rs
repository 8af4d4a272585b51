//! Dashboards shipped inside the binary (`source = "builtin"`, read-only): `pharos`, Pharos's
//! own metrics, over the series it scrapes from itself with `job="pharos"`.

use super::model::{self, Dashboard};

const PHAROS: &str = include_str!("builtin/pharos.json");

/// Every built-in dashboard. The documents are part of the build and tested below, so a
/// broken one is a bug of this release: it is logged and left out rather than stopping startup.
pub fn all() -> Vec<Dashboard> {
    [PHAROS]
        .iter()
        .filter_map(|text| {
            let parsed = serde_json::from_str(text)
                .map_err(|e| model::ModelError {
                    path: "dashboard".into(),
                    message: e.to_string(),
                })
                .and_then(model::parse_value)
                .and_then(|d| d.validate().map(|()| d));
            match parsed {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::error!(error = %e, "a built-in dashboard does not load");
                    None
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards::model::Target;

    #[test]
    fn the_pharos_dashboard_loads_and_every_expression_parses() {
        let all = all();
        assert_eq!(all.len(), 1);
        let d = &all[0];
        assert_eq!(d.uid, "pharos");
        let mut n = 0;
        for t in d.exprs() {
            let Target::Promql { expr, .. } = t else {
                panic!("the builtin has only PromQL targets")
            };
            pharos_query::promql::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert!(expr.contains("job=\"pharos\""), "{expr}");
            n += 1;
        }
        assert!(n >= 10, "{n}");
    }
}
