//! veo-mock
