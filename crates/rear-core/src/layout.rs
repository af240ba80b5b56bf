//! The disk layout: typed model, layout file, probing and ReaR disklayout.conf interop.
