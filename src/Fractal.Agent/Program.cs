// Composition root of the edge daemon (see docs/design). Filled in by the data-path work.
return 0;
