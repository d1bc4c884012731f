//! veo-core
