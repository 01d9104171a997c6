"""Any painting in one pass: a style-conditioned feed-forward network (Ghiasi et al. 2017's style
prediction + conditional instance norm, or our own). `model` describes the installed pairs,
`network` runs their two graphs, `codes` turns paintings into blended style codes (cached),
`transfer` is the `Method.ARBITRARY` implementation."""
