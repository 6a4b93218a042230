//! # Stage 3 · where a forward pass spends its time, step by step
//!
//! Opt-in (`Session::set_profile(true)`, `glassbox bench --profile`): the forward pass calls
//! [`Clock::lap`] after each step, which adds the time since the previous lap to that step's
//! total. Off, a lap is one branch on a `None`; nothing is timed.
//!
//! For the products split across threads the wall time of a step hides two things: the
//! arithmetic, and the time threads spend being handed the work, waiting for it, or waiting for
//! the slowest of them. While profiling, every task of a matrix–vector product also adds its own
//! busy time to a counter (`weights::matvec::busy_timer`); `wall − busy / threads` is then the
//! *hand-off* share, shown as its own line.

use std::time::Instant;

use crate::swiglu::Activation;

/// The steps of one transformer forward pass, in order (plus the head, and sampling, which the
/// caller times).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Embed,
    AttnNorm,
    Qkv,
    Rope,
    Attention,
    OProj,
    Residual,
    FfnNorm,
    GateUp,
    /// The gate's activation times up: SwiGLU (Llama) or GeGLU (Gemma); see [`Step::label`].
    Glu,
    Down,
    FinalNorm,
    Head,
    Sampling,
}

impl Step {
    pub const ALL: [Step; 14] = [
        Step::Embed,
        Step::AttnNorm,
        Step::Qkv,
        Step::Rope,
        Step::Attention,
        Step::OProj,
        Step::Residual,
        Step::FfnNorm,
        Step::GateUp,
        Step::Glu,
        Step::Down,
        Step::FinalNorm,
        Step::Head,
        Step::Sampling,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Embed => "embedding lookup",
            Step::AttnNorm => "attention RMSNorm",
            Step::Qkv => "q_proj, k_proj, v_proj",
            Step::Rope => "RoPE (q, k)",
            Step::Attention => "attention over the cache",
            Step::OProj => "o_proj",
            Step::Residual => "residual adds",
            Step::FfnNorm => "MLP RMSNorm",
            Step::GateUp => "gate_proj, up_proj",
            Step::Glu => "gated activation (GLU)",
            Step::Down => "down_proj",
            Step::FinalNorm => "final RMSNorm",
            Step::Head => "output head",
            Step::Sampling => "sampling (argmax)",
        }
    }

    /// The step's name for a model whose MLP gate uses `act`: the gated activation is named
    /// after it (SwiGLU for SiLU, GeGLU for the tanh GELU); every other step as [`Step::name`].
    pub fn label(self, act: Activation) -> &'static str {
        match (self, act) {
            (Step::Glu, Activation::Silu) => "SwiGLU",
            (Step::Glu, Activation::GeluTanh) => "GeGLU",
            _ => self.name(),
        }
    }

    /// True for the steps that are matrix–vector products over weights.
    pub fn is_matrix(self) -> bool {
        matches!(
            self,
            Step::Qkv | Step::OProj | Step::GateUp | Step::Down | Step::Head
        )
    }
}

/// Accumulated time per step, over `forwards` forward passes.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub nanos: [u64; Step::ALL.len()],
    pub forwards: u64,
}

impl Profile {
    pub fn add(&mut self, step: Step, nanos: u64) {
        self.nanos[step as usize] += nanos;
    }

    /// Add another profile's times and passes to this one.
    pub fn merge(&mut self, other: &Profile) {
        for (a, b) in self.nanos.iter_mut().zip(&other.nanos) {
            *a += b;
        }
        self.forwards += other.forwards;
    }

    /// Seconds spent in `step`, in total.
    pub fn seconds(&self, step: Step) -> f64 {
        self.nanos[step as usize] as f64 * 1e-9
    }
}

/// Times the steps of one forward pass into a profile, if there is one.
pub struct Clock<'a> {
    profile: Option<&'a mut Profile>,
    last: Option<Instant>,
}

impl<'a> Clock<'a> {
    pub fn start(profile: Option<&'a mut Profile>) -> Clock<'a> {
        let last = profile.as_ref().map(|_| Instant::now());
        Clock { profile, last }
    }

    /// The time since the last lap belongs to `step`.
    #[inline]
    pub fn lap(&mut self, step: Step) {
        if let (Some(p), Some(last)) = (self.profile.as_deref_mut(), self.last.as_mut()) {
            let now = Instant::now();
            p.add(step, (now - *last).as_nanos() as u64);
            *last = now;
        }
    }
}
