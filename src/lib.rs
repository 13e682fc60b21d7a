//! storyblok-assets (work in progress)
#![forbid(unsafe_code)]

mod base64;
mod clock;
