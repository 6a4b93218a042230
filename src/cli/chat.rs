//! `glassbox chat` (being written).

use crate::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    Err(Error::Unsupported("`chat` is being written".into()))
}
