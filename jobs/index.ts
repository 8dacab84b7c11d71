/**
 * Job kinds built on the kind seam (common/kinds). Each kind is a folder under jobs/ (spec, coordinator-side
 * KindDef, agent-side localStep, view); this barrel is the one place that lists them, so adding a kind is a
 * folder plus one line here. It is also a check:cycles entry point, so every kind's imports are checked.
 */
export {};
