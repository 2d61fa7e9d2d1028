//! TCF v2.2 purposes 1–11 mapped onto W3C DPV purpose ids.
//!
//! | TCF | TCF v2.2 name                                     | DPV id                          |
//! |-----|---------------------------------------------------|---------------------------------|
//! | 1   | Store and/or access information on a device       | `dpv:Access` (see note)         |
//! | 2   | Use limited data to select advertising            | `dpv:Advertising`               |
//! | 3   | Create profiles for personalised advertising      | `dpv:PersonalisedAdvertising`   |
//! | 4   | Use profiles to select personalised advertising   | `dpv:PersonalisedAdvertising`   |
//! | 5   | Create profiles to personalise content            | `dpv:ServicePersonalisation`    |
//! | 6   | Use profiles to select personalised content       | `dpv:ServicePersonalisation`    |
//! | 7   | Measure advertising performance                   | `dpv:ServiceUsageAnalytics`     |
//! | 8   | Measure content performance                       | `dpv:ServiceUsageAnalytics`     |
//! | 9   | Understand audiences through statistics           | `dpv:CommercialResearch`        |
//! | 10  | Develop and improve services                      | `dpv:ServiceOptimisation`       |
//! | 11  | Use limited data to select content                | `dpv:ServiceProvision`          |
//!
//! Notes. TCF purpose 1 is the ePrivacy Art. 5(3) permission to use the
//! device, which DPV models as processing (`dpv:Access`, `dpv:Store`) rather
//! than as a purpose; `dpv:Access` is used so that refusing it is recorded.
//! Several TCF purposes map to one DPV id: the DPV side is coarser, so a DPV
//! purpose counts as given only if *every* TCF purpose mapped to it is
//! consented ([`dpv_consents`]); one refusal among them refuses it.
//! Purposes 3–6 are children of `dpv:Marketing`/`dpv:Personalisation` in the
//! [`crate::consent`] hierarchy, so their refusal is not widened by a parent.

use super::TcString;

/// One row of the mapping table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcfPurpose {
    /// TCF purpose id.
    pub id: u8,
    /// TCF v2.2 purpose name.
    pub name: &'static str,
    /// DPV purpose id.
    pub dpv: &'static str,
}

/// The TCF purpose → DPV table (see the module docs).
pub const TCF_PURPOSES: [TcfPurpose; 11] = [
    TcfPurpose {
        id: 1,
        name: "Store and/or access information on a device",
        dpv: "dpv:Access",
    },
    TcfPurpose {
        id: 2,
        name: "Use limited data to select advertising",
        dpv: "dpv:Advertising",
    },
    TcfPurpose {
        id: 3,
        name: "Create profiles for personalised advertising",
        dpv: "dpv:PersonalisedAdvertising",
    },
    TcfPurpose {
        id: 4,
        name: "Use profiles to select personalised advertising",
        dpv: "dpv:PersonalisedAdvertising",
    },
    TcfPurpose {
        id: 5,
        name: "Create profiles to personalise content",
        dpv: "dpv:ServicePersonalisation",
    },
    TcfPurpose {
        id: 6,
        name: "Use profiles to select personalised content",
        dpv: "dpv:ServicePersonalisation",
    },
    TcfPurpose {
        id: 7,
        name: "Measure advertising performance",
        dpv: "dpv:ServiceUsageAnalytics",
    },
    TcfPurpose {
        id: 8,
        name: "Measure content performance",
        dpv: "dpv:ServiceUsageAnalytics",
    },
    TcfPurpose {
        id: 9,
        name: "Understand audiences through statistics or combinations of data from different sources",
        dpv: "dpv:CommercialResearch",
    },
    TcfPurpose {
        id: 10,
        name: "Develop and improve services",
        dpv: "dpv:ServiceOptimisation",
    },
    TcfPurpose {
        id: 11,
        name: "Use limited data to select content",
        dpv: "dpv:ServiceProvision",
    },
];

/// The DPV id for TCF purpose `id` (1–11).
pub fn dpv_for_tcf_purpose(id: u8) -> Option<&'static str> {
    TCF_PURPOSES.iter().find(|p| p.id == id).map(|p| p.dpv)
}

/// Each distinct DPV purpose of the table with whether the string gives it:
/// `true` only when every TCF purpose mapped to it has consent. In table order.
pub fn dpv_consents(tc: &TcString) -> Vec<(&'static str, bool)> {
    let mut out: Vec<(&'static str, bool)> = Vec::new();
    for purpose in &TCF_PURPOSES {
        let given = tc.purpose_consent(purpose.id);
        match out.iter_mut().find(|(dpv, _)| *dpv == purpose.dpv) {
            Some((_, all_given)) => *all_given &= given,
            None => out.push((purpose.dpv, given)),
        }
    }
    out
}
