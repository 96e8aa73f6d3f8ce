//! Herald server library.
