//! The colours of a trace page: one per service, stable across traces and
//! runs and distinct within a trace, and red for errors only.

use std::collections::HashMap;

/// Fill of an error span's bar: red, used by no service.
pub(super) const ERROR_COLOUR: &str = "#dc2626";

/// Service colours: distinct hues, each with a contrast of at least 4.5:1
/// on white, none of them red (errors are).
const PALETTE: [&str; 9] = [
    "#1d4ed8", // blue
    "#0f766e", // teal
    "#7e22ce", // purple
    "#a16207", // ochre
    "#15803d", // green
    "#be185d", // magenta
    "#475569", // slate
    "#4d7c0f", // olive
    "#0369a1", // sky
];

/// The palette slot of `service`: the same for a name in every trace and
/// every run (FNV-1a of the name).
fn palette_slot(service: &str) -> usize {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in service.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash as usize % PALETTE.len()
}

/// The colours of a trace's services: each service takes its
/// [`palette_slot`], or the next free one when another service of the trace
/// has it, so that up to `PALETTE.len()` services get distinct colours.
/// Depends only on the set of services.
pub(super) struct Colours<'a>(HashMap<&'a str, &'static str>);

impl<'a> Colours<'a> {
    /// `services`: sorted, without duplicates.
    pub(super) fn new(services: &[&'a str]) -> Self {
        let mut taken = [false; PALETTE.len()];
        let mut colours = HashMap::with_capacity(services.len());
        for (n, service) in services.iter().enumerate() {
            let mut slot = palette_slot(service);
            if n < PALETTE.len() {
                while taken[slot] {
                    slot = (slot + 1) % PALETTE.len();
                }
            }
            taken[slot] = true;
            colours.insert(*service, PALETTE[slot]);
        }
        Colours(colours)
    }

    pub(super) fn of(&self, service: &str) -> &'static str {
        self.0
            .get(service)
            .copied()
            .unwrap_or_else(|| PALETTE[palette_slot(service)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn service_colours_are_stable_distinct_in_a_trace_and_never_red() {
        let names = [
            "api",
            "auth",
            "cache",
            "db",
            "inventory",
            "queue",
            "search",
            "web",
            "worker",
        ];
        let colours = Colours::new(&names);
        let distinct: HashSet<&str> = names.iter().map(|n| colours.of(n)).collect();
        assert_eq!(distinct.len(), PALETTE.len());
        // A service keeps its slot when free, whatever the other services.
        let alone = Colours::new(&["db"]);
        assert_eq!(alone.of("db"), PALETTE[palette_slot("db")]);
        assert_eq!(Colours::new(&["db", "zzz"]).of("db"), alone.of("db"));
        // More services than colours: each still gets one.
        let many: Vec<String> = (0..30).map(|i| format!("s{i}")).collect();
        let mut many: Vec<&str> = many.iter().map(String::as_str).collect();
        many.sort_unstable();
        let colours = Colours::new(&many);
        assert!(many.iter().all(|n| PALETTE.contains(&colours.of(n))));
        assert!(!PALETTE.contains(&ERROR_COLOUR));
    }
}
