"""Deep Image Analogy (Liao et al., SIGGRAPH 2017): a photo rebuilt from a reference's own
pixels through a dense semantic correspondence found in VGG19 feature space."""
