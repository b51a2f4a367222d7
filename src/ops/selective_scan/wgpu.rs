//! The WGSL selective scan on burn's wgpu backend (cubecl `PrecompiledSource`, lang "wgsl").
//!
//! Short sequences: one pass, one invocation per (sequence, channel), N states in registers.
//! Long sequences (or when chunk-boundary states are wanted for the backward): the sequence is
//! cut into chunks; pass 1 scans each chunk from zero and keeps its end state and decay, pass 2
//! (`selective_scan_chunks.wgsl`) scans across chunks for each chunk's start state, pass 3
//! rescans each chunk from its start state and writes the output. Chunk length and workgroup
//! size come from the device limits and the shape ([`ScanPlan`]). Training keeps the state
//! entering every T-th step (the backward's chunk length), written by the output pass.

use super::{HalfResults, ScanInputs};
pub use crate::ops::InputFormat;
use crate::ops::kernel::{arguments, client_of, cube, kernel_id, out_lanes, plain};
use crate::ops::sum_rows::sum_rows;
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Shape, Tensor, TensorData};

const SCAN_WGSL: &str = include_str!("../../../shaders/selective_scan.wgsl");
const CHUNKS_WGSL: &str = include_str!("../../../shaders/selective_scan_chunks.wgsl");
const BACKWARD_WGSL: &str = include_str!("../../../shaders/selective_scan_backward.wgsl");

pub use crate::ops::kernel::is_wgsl_device;

/// Knobs for tests and benchmarks; the defaults are what the model uses.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Force this chunk length (else [`ScanPlan`] decides).
    pub chunk_len: Option<usize>,
    /// The training forward: keep the state entering every this many steps for the backward
    /// ([`ScanOutput::saved_states`]; [`backward_chunk_len`]), written by the output pass
    /// whatever the plan.
    pub save_every: Option<usize>,
    /// Fill the output with NaN before the launch, so unwritten elements fail a comparison.
    pub poison: bool,
    /// For f16 inputs: force native `f16` or packed-u32 loads (else chosen from the adapter).
    pub f16_format: Option<InputFormat>,
    /// The backward: force this many invocations per channel, a power of two dividing N (else
    /// `RANKMAMBA_SCAN_LANES`, or two where N is even and the workgroup fits).
    pub lanes: Option<u32>,
    /// The backward: keep each step's a_t from the recompute for the walk instead of evaluating
    /// the exponential again (else `RANKMAMBA_SCAN_KEEP_A=1`, default off).
    pub keep_a: Option<bool>,
    /// The output (forward) and the gradients of Δ and z (backward) written in f16 (needs the
    /// adapter's `shader-f16`).
    pub half: HalfResults,
}

/// How one scan is laid out on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanPlan {
    pub workgroup: u32,
    /// Time steps of B and C staged in workgroup memory at once.
    pub tile: u32,
    pub chunk_len: usize,
    pub n_chunks: usize,
}

/// Longest run of time steps one invocation scans in a pass: bounds a dispatch's duration
/// (GPU watchdogs) whatever the sequence length.
const MAX_STEPS_PER_INVOCATION: usize = 1024;
/// Below this many (sequence, channel) invocations the GPU is under-filled: cut time into more
/// chunks (each chunk adds an invocation per channel).
const MIN_INVOCATIONS: usize = 1 << 16;

impl ScanPlan {
    pub fn new(
        batch: usize,
        len: usize,
        d_inner: usize,
        n: usize,
        max_units_per_workgroup: u32,
        max_shared_bytes: usize,
        forced_chunk: Option<usize>,
    ) -> Self {
        // channels of one sequence per workgroup: up to 128, fewer for narrow models, never
        // above the device's limit
        let workgroup = (d_inner.next_power_of_two().clamp(8, 128) as u32).min(max_units_per_workgroup.max(1));
        let chunk_len = match forced_chunk {
            Some(c) => c.clamp(1, len.max(1)),
            None => {
                let rows = (batch * d_inner).max(1);
                let want_chunks = MIN_INVOCATIONS.div_ceil(rows);
                // a chunk costs a second scan of its steps, so only split long sequences
                let by_fill = if len >= 2048 && want_chunks > 1 { len.div_ceil(want_chunks).max(256) } else { len };
                by_fill.min(MAX_STEPS_PER_INVOCATION).max(1)
            }
        };
        // B_t | C_t rows in workgroup memory: 32 steps, fewer if the device has little
        // (each of B_t, C_t padded to whole vec4s)
        let row_bytes = 2 * n.max(1).next_multiple_of(4) * 4;
        let tile = (max_shared_bytes / 2 / row_bytes).clamp(1, 32) as u32;
        ScanPlan { workgroup, tile, chunk_len, n_chunks: len.max(1).div_ceil(chunk_len) }
    }
}

#[derive(Debug)]
struct ScanKernel {
    workgroup: u32,
    n: u32,
    tile: u32,
    mode: u32,
    has_z: bool,
    format: InputFormat,
    out_f16: bool,
    /// each step loads the next one's inputs
    prefetch: bool,
}

impl KernelSource for ScanKernel {
    fn source(&self) -> SourceTemplate {
        self.format
            .register(SourceTemplate::new(SCAN_WGSL))
            .register("wg", self.workgroup.to_string())
            .register("n", self.n.to_string())
            .register("tile", self.tile.to_string())
            .register("mode", self.mode.to_string())
            .register("has_z", self.has_z.to_string())
            .register("prefetch", self.prefetch.to_string())
            .register("out_ty", out_lanes(if self.out_f16 { DType::F16 } else { DType::F32 }, 1))
            // (replaces the input format's line: one `enable` for both)
            .register("enable_f16", if self.out_f16 || self.format == InputFormat::F16 { "enable f16;" } else { "" })
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.workgroup, self.n, self.tile, self.mode, self.has_z, self.format, self.out_f16, self.prefetch))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

#[derive(Debug)]
struct ChunksKernel {
    workgroup: u32,
    n: u32,
}

impl KernelSource for ChunksKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(CHUNKS_WGSL).register("wg", self.workgroup.to_string()).register("n", self.n.to_string())
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.workgroup, self.n))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `t` in `dtype`, without a kernel when it is already there (adapters without `shader-f16` run
/// no burn kernel on f16 data: such tensors come straight from host bytes).
fn as_dtype<const D: usize>(t: Tensor<D>, dtype: DType) -> Tensor<D> {
    if t.dtype() == dtype { t } else { t.cast(dtype) }
}

/// Output of [`forward`].
pub struct ScanOutput {
    /// (batch, len, d_inner)
    pub out: Tensor<3>,
    /// With `save_every`: (batch, ceil(len / save_every), N, d_inner), the state entering every
    /// `save_every`-th step, which the backward recomputes from (none when that is only the
    /// zero start)
    pub saved_states: Option<Tensor<4>>,
    pub plan: ScanPlan,
}

/// Run the WGSL scan. The inputs must live on a wgpu device ([`is_wgsl_device`]).
pub fn forward(x: ScanInputs, opts: &ScanOptions) -> ScanOutput {
    let [batch, len, d_inner] = x.u.dims();
    let n = x.a.dims()[1];
    let device = x.u.device();
    // B and C side by side in one binding, and the per-channel constants in another: the
    // kernel then needs 7 storage bindings, under WebGPU's default of 8 per stage
    let bc = Tensor::cat(vec![x.b, x.c], 2); // (batch, len, 2N)
    let chan = Tensor::cat(vec![x.a.reshape([d_inner * n]), x.d, x.delta_bias], 0); // (E·N + 2E)
    let has_z = x.z.is_some();
    // u, Δ, z in f32, or all three in f16 (half the bytes of the kernel's main reads)
    let format = if x.u.dtype() == DType::F16 {
        opts.f16_format.filter(|f| *f != InputFormat::F32).unwrap_or(InputFormat::for_f16())
    } else {
        InputFormat::F32
    };
    let dtype = if format == InputFormat::F32 { DType::F32 } else { DType::F16 };
    // the gate's placeholder when there is none, uploaded in the input dtype (no cast kernel)
    let z = x.z.unwrap_or_else(|| match dtype {
        DType::F16 => Tensor::<3>::from_data(TensorData::new(vec![half::f16::ZERO; 2], [1, 1, 2]), (&device, DType::F16)),
        _ => Tensor::<3>::zeros([1, 1, 1], &device),
    });
    let (u, delta, z) = (cube(as_dtype(x.u, dtype)), cube(as_dtype(x.delta, dtype)), cube(as_dtype(z, dtype)));
    let (bc, chan) = (cube(as_dtype(bc, DType::F32)), cube(as_dtype(chan, DType::F32)));

    let client = u.client.clone();
    let props = client.properties();
    let plan = ScanPlan::new(
        batch,
        len,
        d_inner,
        n,
        props.hardware.max_units_per_cube,
        props.hardware.max_shared_memory_size,
        opts.chunk_len,
    );
    // training: the output pass also keeps the state entering every `every`-th step
    let every = opts.save_every.map_or(0, |s| s.max(1));
    let n_saved = if every > 0 { len.div_ceil(every) } else { 0 };
    let cube_dev = u.device.clone();
    let f32s = |count: usize| count.max(1) * 4;
    let out_len = batch * len * d_inner;
    let out_dtype = if opts.half.out { DType::F16 } else { DType::F32 };
    // (whole 4-byte words: an f16 output of odd length gets one more element)
    let out_handle = if opts.poison {
        let nan = if opts.half.out { half::f16::NAN.to_le_bytes().repeat(out_len.max(1).next_multiple_of(2)) } else { f32::NAN.to_le_bytes().repeat(out_len.max(1)) };
        client.create_from_slice(&nan)
    } else {
        client.empty((out_len.max(1) * out_dtype.size()).next_multiple_of(4))
    };
    let out = CubeTensor::new_contiguous(client.clone(), cube_dev.clone(), Shape::new([batch, len, d_inner]), out_handle, out_dtype);
    let buffer = |len: usize| CubeTensor::new_contiguous(client.clone(), cube_dev.clone(), Shape::new([len]), client.empty(f32s(len)), DType::F32);
    let states = buffer(if plan.n_chunks > 1 { batch * plan.n_chunks * d_inner * 2 * n } else { 1 });
    // a single saved state is the zero start: none kept (the backward starts from zeros)
    let (every, n_saved) = if n_saved > 1 { (every, n_saved) } else { (0, 0) };
    let saved = buffer(batch * n_saved * d_inner * n);
    if out_len == 0 {
        return ScanOutput { out: plain(out), saved_states: None, plan };
    }

    let params = [
        batch as u32,
        len as u32,
        d_inner as u32,
        plan.chunk_len as u32,
        plan.n_chunks as u32,
        2 * n as u32,
        n as u32,
        every as u32,
        n_saved as u32,
        0,
        0,
        0,
    ];
    let groups = CubeCount::Static((d_inner as u32).div_ceil(plan.workgroup), batch as u32, plan.n_chunks as u32);
    let launch_scan = |mode: u32| {
        let args = arguments(&[&u, &delta, &z, &bc, &chan, &states, &out, &saved], &params);
        let kernel = ScanKernel { workgroup: plan.workgroup, n: n as u32, tile: plan.tile, mode, has_z, format, out_f16: opts.half.out, prefetch: crate::ops::kernel::prefetch() };
        client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(plan.workgroup))), groups.clone(), args);
    };
    if plan.n_chunks > 1 {
        launch_scan(1);
        let args = arguments(&[&states], &[batch as u32, d_inner as u32, plan.n_chunks as u32, 0]);
        let kernel = ChunksKernel { workgroup: plan.workgroup, n: n as u32 };
        let count = CubeCount::Static(((d_inner * n) as u32).div_ceil(plan.workgroup), batch as u32, 1);
        client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(plan.workgroup))), count, args);
    }
    launch_scan(0);

    let saved_states = (n_saved > 1).then(|| plain::<1>(saved).reshape([batch, n_saved, n, d_inner]));
    ScanOutput { out: plain(out), saved_states, plan }
}

/// Chunk length of the training plan: the forward keeps the state entering every T-th step,
/// the backward recomputes a chunk's T steps into a history of T × (its share of the N states)
/// floats in registers, which stays at 64 (N = 16, two invocations per channel: T = 8).
/// `RANKMAMBA_SCAN_CHUNK` overrides it (a benchmark knob: memory for the saved states against
/// the backward's register pressure).
pub fn backward_chunk_len(n: usize) -> usize {
    // read once: the forward and the backward of every layer ask
    static KNOB: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    let knob = *KNOB.get_or_init(|| std::env::var("RANKMAMBA_SCAN_CHUNK").ok().and_then(|v| v.parse().ok()));
    let share = if n % 2 == 0 { n / 2 } else { n };
    knob.unwrap_or((64 / share.max(1)).clamp(2, 16)).clamp(1, 64)
}

/// Invocations per channel in the backward, each owning N / lanes states: `want` (a power of two
/// dividing N whose workgroup fits, else an error), or two where N is even and the doubled
/// workgroup fits the device (half the dependent work per step, twice the invocations to hide
/// latency with).
fn backward_lanes(n: usize, want: Option<u32>, channels_per_workgroup: u32, max_units_per_workgroup: u32) -> Result<u32, String> {
    match want {
        Some(p) if !p.is_power_of_two() || n % p as usize != 0 => Err(format!("{p} lanes per channel: not a power of two dividing N = {n}")),
        Some(p) if p * channels_per_workgroup > max_units_per_workgroup => {
            Err(format!("{p} lanes × {channels_per_workgroup} channels exceed the device's {max_units_per_workgroup} invocations per workgroup"))
        }
        Some(p) => Ok(p),
        None => Ok(if n % 2 == 0 && 2 * channels_per_workgroup <= max_units_per_workgroup { 2 } else { 1 }),
    }
}

/// `RANKMAMBA_SCAN_KEEP_A=1`: a benchmark knob, the backward keeps a_t in registers.
fn keep_a_knob() -> bool {
    static KNOB: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KNOB.get_or_init(|| std::env::var("RANKMAMBA_SCAN_KEEP_A").as_deref() == Ok("1"))
}

/// `RANKMAMBA_SCAN_SCALAR_TILE=1`: a benchmark knob, the backward reads the B | C tile one
/// float at a time (as before the vec4 reads).
fn scalar_tile_knob() -> bool {
    static KNOB: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KNOB.get_or_init(|| std::env::var("RANKMAMBA_SCAN_SCALAR_TILE").as_deref() == Ok("1"))
}

/// `RANKMAMBA_SCAN_LANES`: a benchmark knob for the backward's invocations per channel.
fn lanes_knob() -> Option<u32> {
    static KNOB: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *KNOB.get_or_init(|| std::env::var("RANKMAMBA_SCAN_LANES").ok().and_then(|v| v.parse().ok()))
}

/// Subgroups per workgroup of the backward whose dB | dC partials are summed in workgroup
/// memory, or 0 where they are written per subgroup: the reduction needs every subgroup to be
/// exactly 2N lanes (the transpose-reduce leaves one column per lane) and room for a chunk's
/// partials beside the B | C tile.
/// `subgroup_sizes` is the device's (min, max).
fn workgroup_reduction(n: u32, threads: u32, t: u32, tile: u32, subgroup_sizes: (u32, u32), max_shared_bytes: usize) -> u32 {
    let lanes = 2 * n;
    let one_size = subgroup_sizes.0 == subgroup_sizes.1 && subgroup_sizes.0 == lanes;
    let sgs = threads / lanes.max(1);
    // (the B | C tile's rows padded to whole vec4s)
    let bytes = 4 * (tile * 2 * n.next_multiple_of(4) + t * sgs * lanes) as usize;
    if one_size && threads % lanes == 0 && sgs > 1 && bytes <= max_shared_bytes { sgs } else { 0 }
}

/// Steps of B and C the backward stages in workgroup memory at once: several chunks.
fn backward_tile(t: usize) -> usize {
    t * (32 / t).max(1)
}

#[derive(Debug)]
struct BackwardKernel {
    /// invocations: channels × lanes
    workgroup: u32,
    n: u32,
    lanes: u32,
    t: u32,
    tile: u32,
    has_z: bool,
    /// subgroups per workgroup whose dB | dC sums are added in workgroup memory (every subgroup
    /// has 2N lanes), or 0: each subgroup writes its own
    reduce_subgroups: u32,
    /// a_t kept from the recompute for the walk
    keep_a: bool,
    /// d(delta) and dz written in f16
    dv16: bool,
    dz16: bool,
    /// the B | C tile read one float at a time (the measured alternative)
    scalar_tile: bool,
}

/// The planes d(delta) and dz take in the backward's f32 buffer (after du) or in its f16 one.
fn grad_planes(dv16: bool, dz16: bool) -> (u32, u32) {
    let dv = if dv16 { 0 } else { 1 };
    let dz = if dz16 { dv16 as u32 } else { 1 + !dv16 as u32 };
    (dv, dz)
}

impl KernelSource for BackwardKernel {
    fn source(&self) -> SourceTemplate {
        let (dv_at, dz_at) = grad_planes(self.dv16, self.dz16);
        let dh = if self.dv16 || self.dz16 { DType::F16 } else { DType::F32 };
        SourceTemplate::new(BACKWARD_WGSL)
            .register("wg", self.workgroup.to_string())
            .register("n", self.n.to_string())
            .register("p", self.lanes.to_string())
            .register("t", self.t.to_string())
            .register("tile", self.tile.to_string())
            .register("has_z", self.has_z.to_string())
            .register("wg_reduce", (self.reduce_subgroups > 0).to_string())
            .register("sgs", self.reduce_subgroups.max(1).to_string())
            .register("red_len", (self.reduce_subgroups * self.t * 2 * self.n).max(1).to_string())
            .register("keep_a", self.keep_a.to_string())
            .register("ahist_len", if self.keep_a { self.t * (self.n / self.lanes) } else { 1 }.to_string())
            .register("dv16", self.dv16.to_string())
            .register("dz16", self.dz16.to_string())
            .register("dv_at", dv_at.to_string())
            .register("dz_at", dz_at.to_string())
            .register("dh_ty", out_lanes(dh, 1))
            .register("enable_f16", if dh == DType::F16 { "enable f16;" } else { "" })
            .register("v4", (!self.scalar_tile).to_string())
    }
    fn id(&self) -> KernelId {
        let what = (self.reduce_subgroups, self.keep_a, self.dv16, self.dz16, self.scalar_tile);
        kernel_id::<Self>().info((self.workgroup, self.n, self.lanes, self.t, self.tile, self.has_z, what))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Gradients of one scan, in the shapes of [`ScanInputs`].
pub struct ScanGrads {
    pub u: Tensor<3>,
    pub delta: Tensor<3>,
    pub delta_bias: Tensor<1>,
    pub a: Tensor<2>,
    pub b: Tensor<3>,
    pub c: Tensor<3>,
    pub d: Tensor<1>,
    pub z: Option<Tensor<3>>,
}

/// The backward pass. `x` are the forward inputs, `saved_states` what the forward with the
/// same `opts.save_every` (default [`backward_chunk_len`]) kept (`None` if it had a single
/// chunk), `dout` the gradient of the output. With `opts.poison` the per-element gradients start
/// as NaN, so any element the kernel does not write fails a comparison. Needs subgroup
/// operations ([`crate::device::wgpu_has_subgroups`]).
pub fn backward(x: ScanInputs, saved_states: Option<Tensor<4>>, dout: Tensor<3>, opts: &ScanOptions) -> ScanGrads {
    let [batch, len, d_inner] = x.u.dims();
    let n = x.a.dims()[1];
    let device = x.u.device();
    let t = opts.save_every.unwrap_or(backward_chunk_len(n)).max(1);
    let n_chunks = len.max(1).div_ceil(t);
    let states = saved_states.unwrap_or_else(|| Tensor::<4>::zeros([batch, n_chunks, n, d_inner], &device));
    assert_eq!(states.dims(), [batch, n_chunks, n, d_inner], "states saved every {t} steps");
    let bc = Tensor::cat(vec![x.b, x.c], 2);
    let chan = Tensor::cat(vec![x.a.reshape([d_inner * n]), x.d, x.delta_bias], 0);
    let has_z = x.z.is_some();
    let z = x.z.unwrap_or_else(|| Tensor::<3>::zeros([1, 1, 1], &device));

    let client = client_of(&device);
    let props = client.properties();
    let plan = ScanPlan::new(batch, len, d_inner, n, props.hardware.max_units_per_cube, props.hardware.max_shared_memory_size, Some(t));
    let max_units = props.hardware.max_units_per_cube;
    let lanes = backward_lanes(n, opts.lanes.or_else(lanes_knob), plan.workgroup, max_units).unwrap_or_else(|e| {
        // a knob, not user input: said once, and the default used
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| eprintln!("rankmamba: selective scan backward: {e}; using the default"));
        backward_lanes(n, None, plan.workgroup, max_units).unwrap_or(1)
    });
    let threads = plan.workgroup * lanes;
    let sg_min = props.hardware.plane_size_min.max(1).min(threads);
    let tile = backward_tile(t) as u32;
    let reduce_subgroups = workgroup_reduction(
        n as u32,
        threads,
        t as u32,
        tile,
        (props.hardware.plane_size_min, props.hardware.plane_size_max),
        props.hardware.max_shared_memory_size,
    );
    let groups_per_wg = if reduce_subgroups > 0 { 1 } else { threads / sg_min };
    let n_groups = (d_inner as u32).div_ceil(plan.workgroup) * groups_per_wg;

    // the kernel writes every element of dx and dchan (poisoned for tests, else left unset:
    // filling 3 × (batch, len, d_inner) cost as much as a copy); dbc's slots of subgroups larger
    // than the minimum stay zero
    fn unset<const D: usize>(shape: [usize; D], poison: bool, device: &burn::tensor::Device) -> Tensor<D> {
        if poison { Tensor::full(shape, f32::NAN, device) } else { Tensor::empty(shape, device) }
    }
    // d(delta) and dz in f16 where asked (dz only with a gate): planes of `dh` instead of `dx`
    let (dv16, dz16) = (opts.half.delta_grad, opts.half.z_grad && has_z);
    let n_f16 = dv16 as usize + dz16 as usize;
    let dx = unset([3 - n_f16, batch, len, d_inner], opts.poison, &device);
    let dh = match n_f16 {
        0 => Tensor::<4>::zeros([1, 1, 1, 1], &device),
        _ if opts.poison => Tensor::<4>::full([n_f16, batch, len, d_inner], f32::NAN, (&device, DType::F16)),
        _ => Tensor::<4>::empty([n_f16, batch, len, d_inner], (&device, DType::F16)),
    };
    let dchan = unset([batch, d_inner, n + 2], opts.poison, &device);
    let dbc_shape = [n_groups as usize, batch, len, 2 * n];
    let one_subgroup_size = props.hardware.plane_size_min == props.hardware.plane_size_max;
    let dbc = if one_subgroup_size { unset(dbc_shape, opts.poison, &device) } else { Tensor::zeros(dbc_shape, &device) };
    let (u, delta, z, bc, chan, states, dout) = (cube(x.u), cube(x.delta), cube(z), cube(bc), cube(chan), cube(states), cube(dout));
    let (dx, dh, dbc, dchan) = (cube(dx), cube(dh), cube(dbc), cube(dchan));
    let params = [
        batch as u32,
        len as u32,
        d_inner as u32,
        n_chunks as u32,
        2 * n as u32,
        n as u32,
        n_groups,
        groups_per_wg,
    ];
    if batch * len * d_inner > 0 {
        let args = arguments(&[&u, &delta, &z, &bc, &chan, &states, &dout, &dx, &dbc, &dchan, &dh], &params);
        let keep_a = opts.keep_a.unwrap_or_else(keep_a_knob);
        let kernel = BackwardKernel { workgroup: threads, n: n as u32, lanes, t: t as u32, tile, has_z, reduce_subgroups, keep_a, dv16, dz16, scalar_tile: scalar_tile_knob() };
        let count = CubeCount::Static((d_inner as u32).div_ceil(plan.workgroup), batch as u32, 1);
        client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(threads))), count, args);
    }
    let (dx, dh) = (plain::<4>(dx), plain::<4>(dh));
    // the partials summed as rows of a matrix (burn's reductions along an outer axis leave most
    // of a GPU idle: ops::sum_rows)
    let dbc = sum_rows(plain::<4>(dbc).reshape([n_groups as usize, batch * len * 2 * n])).reshape([batch, len, 2 * n]);
    let dchan = sum_rows(plain::<3>(dchan).reshape([batch, d_inner * (n + 2)])).reshape([d_inner, n + 2]);
    let plane = |of: &Tensor<4>, i: usize| of.clone().narrow(0, i, 1).reshape([batch, len, d_inner]);
    let planes = grad_planes(dv16, dz16);
    ScanGrads {
        u: plane(&dx, 0),
        delta: plane(if dv16 { &dh } else { &dx }, planes.0 as usize),
        z: has_z.then(|| plane(if dz16 { &dh } else { &dx }, planes.1 as usize)),
        b: dbc.clone().narrow(2, 0, n),
        c: dbc.narrow(2, n, n),
        a: dchan.clone().narrow(1, 0, n),
        d: dchan.clone().narrow(1, n, 1).reshape([d_inner]),
        delta_bias: dchan.narrow(1, n + 1, 1).reshape([d_inner]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_lanes_default_to_two_and_refuse_what_cannot_run() {
        assert_eq!(backward_lanes(16, None, 128, 1024), Ok(2));
        assert_eq!(backward_lanes(5, None, 128, 1024), Ok(1));
        assert_eq!(backward_lanes(16, None, 128, 128), Ok(1));
        assert_eq!(backward_lanes(16, Some(4), 128, 1024), Ok(4));
        assert!(backward_lanes(16, Some(3), 128, 1024).unwrap_err().contains("power of two"));
        assert!(backward_lanes(4, Some(8), 128, 1024).unwrap_err().contains("dividing N = 4"));
        assert!(backward_lanes(16, Some(16), 128, 1024).unwrap_err().contains("1024 invocations"));
    }

    #[test]
    fn plans_follow_the_shape_and_limits() {
        // reranking: one pass
        assert_eq!(
            ScanPlan::new(100, 512, 1536, 16, 1024, 49152, None),
            ScanPlan { workgroup: 128, tile: 32, chunk_len: 512, n_chunks: 1 }
        );
        // one long document: chunks to fill the GPU and bound each invocation
        let p = ScanPlan::new(1, 32768, 1536, 16, 1024, 49152, None);
        assert!(p.n_chunks >= 32 && p.chunk_len <= MAX_STEPS_PER_INVOCATION, "{p:?}");
        // small devices cap the workgroup and the tile
        assert_eq!(ScanPlan::new(1, 7, 1536, 16, 64, 49152, None).workgroup, 64);
        assert_eq!(ScanPlan::new(1, 7, 1536, 16, 64, 1024, None).tile, 4);
        assert_eq!(ScanPlan::new(1, 7, 5, 4, 256, 16384, Some(3)), ScanPlan { workgroup: 8, tile: 32, chunk_len: 3, n_chunks: 3 });
    }

    #[test]
    fn the_backward_sums_over_the_workgroup_only_where_subgroups_are_2n_lanes() {
        // Mamba-130m on the H200: 128 channels × 2 lanes, subgroups of 32 = 2N, T 8, tile 32
        assert_eq!(workgroup_reduction(16, 256, 8, 32, (32, 32), 49152), 8);
        // lavapipe (8 lanes) at N 4
        assert_eq!(workgroup_reduction(4, 128, 16, 32, (8, 8), 32768), 16);
        // subgroups of another or a varying size, a single subgroup, too little workgroup memory
        assert_eq!(workgroup_reduction(16, 256, 8, 32, (8, 8), 49152), 0);
        assert_eq!(workgroup_reduction(16, 256, 8, 32, (32, 64), 49152), 0);
        assert_eq!(workgroup_reduction(16, 32, 8, 32, (32, 32), 49152), 0);
        assert_eq!(workgroup_reduction(16, 256, 8, 32, (32, 32), 8192), 0);
    }

    /// Every backward variant the host can pick (and the knobs' ones) parses, validates and is
    /// written to SPIR-V.
    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn every_backward_variant_compiles_to_spirv() {
        use burn::backend::wgpu::KernelSource;
        for (n, lanes, t, reduce) in [(16, 2, 8, 8), (16, 4, 16, 0), (16, 1, 1, 0), (4, 2, 16, 16), (5, 1, 3, 0)] {
            for (keep_a, half, scalar_tile) in [(false, true, false), (false, false, true), (true, false, false)] {
                let kernel = BackwardKernel {
                    workgroup: 64 * lanes,
                    n,
                    lanes,
                    t,
                    tile: backward_tile(t as usize) as u32,
                    has_z: !keep_a,
                    reduce_subgroups: reduce,
                    keep_a,
                    dv16: half,
                    dz16: half,
                    scalar_tile,
                };
                crate::ops::kernel::wgsl_to_spirv(&kernel.source().complete(), &format!("{kernel:?}"));
            }
        }
    }

    /// The forward's variants (both modes, with and without the gate and the prefetch) compile.
    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn every_forward_variant_compiles_to_spirv() {
        use burn::backend::wgpu::KernelSource;
        for (mode, has_z, prefetch, out_f16) in [(0, true, true, true), (0, false, true, false), (1, false, true, false), (0, true, false, false), (1, true, false, false)] {
            for format in [InputFormat::F32, InputFormat::F16, InputFormat::PackedF16] {
                // (f16 outputs come with shader-f16, so never with packed inputs)
                let out_f16 = out_f16 && format != InputFormat::PackedF16;
                let kernel = ScanKernel { workgroup: 128, n: 16, tile: 32, mode, has_z, format, out_f16, prefetch };
                crate::ops::kernel::wgsl_to_spirv(&kernel.source().complete(), &format!("{kernel:?}"));
            }
        }
    }
}
