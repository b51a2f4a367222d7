//! A tensor-core matmul in hand-written WGSL (`shaders/matmul_coop.wgsl`): f16 products, f32
//! accumulation, on wgpu's experimental cooperative matrices. burn's own WGSL matmul cannot reach
//! the tensor cores; this kernel runs on the same wgpu device as the scan and attention kernels.
//! `train --precision mixed` runs the linear layers through it where their sizes fit
//! (`ops::linear`, BENCHMARKS.md §5).

use crate::error::{Error, Result};
use crate::ops::kernel::{arguments, client_of, empty_f32, is_wgsl_device, kernel_id, plain, raw};
use crate::ops::sum_rows::sum_rows;
use burn::backend::wgpu::{into_contiguous, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Device, Tensor};

const MATMUL_COOP_WGSL: &str = include_str!("../../shaders/matmul_coop.wgsl");

/// A shape of the tensor-core kernel: a workgroup of `wm` × `wn` subgroups, each owning `tm` × `tn`
/// accumulator tiles of 16 × 16, over K slices of `bk` staged in workgroup memory; `stages` 1
/// (the next slices wait in registers, two barriers per slice), 2 (double-buffered workgroup
/// memory, one barrier; two slices per turn of the loop) or 0 (nothing staged: each subgroup
/// loads its tiles from storage, `bk` deep per turn; sizes that are not multiples of 16 run in
/// [`CoopShape::STAGED`] instead).
/// `examples/probe_matmul.rs --shapes` times the candidates on an adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CoopShape {
    pub wm: usize,
    pub wn: usize,
    pub tm: usize,
    pub tn: usize,
    pub bk: usize,
    pub stages: usize,
}

impl CoopShape {
    /// The shape `matmul_coop` runs (BENCHMARKS.md §5: the fastest at a training step's products
    /// on the H200).
    pub const DEFAULT: CoopShape = CoopShape { wm: 2, wn: 2, tm: 4, tn: 4, bk: 32, stages: 1 };

    /// The staged shape a `stages` 0 shape hands products to whose sizes are not multiples of 16.
    pub const STAGED: CoopShape = CoopShape::DEFAULT;

    /// Shapes worth timing: the workgroup's subgroup grid, each subgroup's tiles, the K slice and
    /// the buffering (those over an adapter's limits are skipped by [`CoopShape::fits`]).
    pub const CANDIDATES: [CoopShape; 25] = [
        CoopShape::DEFAULT,
        // (the default until the persistent grid)
        CoopShape { wm: 4, wn: 2, tm: 2, tn: 4, bk: 64, stages: 1 },
        CoopShape { wm: 2, wn: 2, tm: 4, tn: 4, bk: 64, stages: 1 },
        CoopShape { wm: 2, wn: 2, tm: 4, tn: 4, bk: 16, stages: 1 },
        CoopShape { wm: 2, wn: 2, tm: 4, tn: 4, bk: 32, stages: 2 },
        CoopShape { wm: 2, wn: 4, tm: 4, tn: 2, bk: 32, stages: 1 },
        CoopShape { wm: 4, wn: 2, tm: 2, tn: 4, bk: 32, stages: 1 },
        CoopShape { wm: 4, wn: 4, tm: 2, tn: 2, bk: 64, stages: 1 },
        CoopShape { wm: 4, wn: 4, tm: 2, tn: 2, bk: 32, stages: 1 },
        // eight subgroups of other tile counts: fewer accumulators, or larger blocks
        CoopShape { wm: 4, wn: 2, tm: 2, tn: 2, bk: 64, stages: 1 },
        CoopShape { wm: 4, wn: 2, tm: 4, tn: 2, bk: 64, stages: 1 },
        CoopShape { wm: 2, wn: 4, tm: 2, tn: 4, bk: 64, stages: 1 },
        CoopShape { wm: 4, wn: 2, tm: 4, tn: 4, bk: 32, stages: 1 },
        CoopShape { wm: 2, wn: 4, tm: 4, tn: 4, bk: 32, stages: 1 },
        // sixteen subgroups of 2 × 4 tiles: blocks of 256 × 128 and 128 × 256, less staging per
        // multiply-add (a slice of 64 would not fit 48 KiB)
        CoopShape { wm: 8, wn: 2, tm: 2, tn: 4, bk: 32, stages: 1 },
        CoopShape { wm: 4, wn: 4, tm: 2, tn: 4, bk: 32, stages: 1 },
        // double-buffered, two slices per turn (constant buffer offsets)
        CoopShape { wm: 4, wn: 2, tm: 2, tn: 4, bk: 32, stages: 2 },
        CoopShape { wm: 4, wn: 2, tm: 2, tn: 4, bk: 16, stages: 2 },
        CoopShape { wm: 4, wn: 4, tm: 2, tn: 2, bk: 32, stages: 2 },
        CoopShape { wm: 2, wn: 4, tm: 2, tn: 4, bk: 32, stages: 2 },
        // nothing staged: tiles straight from storage through the cache, no barriers
        CoopShape { wm: 4, wn: 2, tm: 2, tn: 4, bk: 64, stages: 0 },
        CoopShape { wm: 4, wn: 2, tm: 2, tn: 4, bk: 32, stages: 0 },
        CoopShape { wm: 2, wn: 2, tm: 4, tn: 4, bk: 32, stages: 0 },
        CoopShape { wm: 4, wn: 4, tm: 2, tn: 2, bk: 32, stages: 0 },
        CoopShape { wm: 2, wn: 4, tm: 4, tn: 2, bk: 64, stages: 0 },
    ];

    /// Shapes worth timing on the small products of a Mamba step (x_proj's and dt_proj's: one
    /// side 48 or 80, or K 48 or 80): smaller blocks (more of them, fewer accumulators, more
    /// workgroups resident per SM), blocks whose side is that narrow one (no padding), K slices of 16.
    pub const SMALL_CANDIDATES: [CoopShape; 16] = [
        CoopShape::DEFAULT,
        CoopShape { wm: 2, wn: 2, tm: 4, tn: 4, bk: 16, stages: 1 },
        CoopShape { wm: 2, wn: 2, tm: 2, tn: 2, bk: 32, stages: 1 },
        CoopShape { wm: 2, wn: 2, tm: 2, tn: 2, bk: 16, stages: 1 },
        CoopShape { wm: 2, wn: 2, tm: 2, tn: 4, bk: 32, stages: 1 },
        CoopShape { wm: 4, wn: 2, tm: 1, tn: 2, bk: 32, stages: 1 },
        CoopShape { wm: 2, wn: 2, tm: 2, tn: 2, bk: 16, stages: 0 },
        // 80 columns (x_proj's outputs) or rows (its weight gradient)
        CoopShape { wm: 4, wn: 1, tm: 2, tn: 5, bk: 32, stages: 1 },
        CoopShape { wm: 2, wn: 1, tm: 2, tn: 5, bk: 32, stages: 1 },
        CoopShape { wm: 2, wn: 1, tm: 2, tn: 5, bk: 16, stages: 1 },
        CoopShape { wm: 1, wn: 4, tm: 5, tn: 2, bk: 32, stages: 1 },
        CoopShape { wm: 1, wn: 4, tm: 5, tn: 4, bk: 32, stages: 1 },
        // 48 columns (dt_proj's dx, its weight gradient)
        CoopShape { wm: 2, wn: 1, tm: 4, tn: 3, bk: 16, stages: 1 },
        CoopShape { wm: 2, wn: 1, tm: 4, tn: 3, bk: 32, stages: 1 },
        CoopShape { wm: 4, wn: 1, tm: 2, tn: 3, bk: 32, stages: 1 },
        CoopShape { wm: 1, wn: 2, tm: 3, tn: 4, bk: 16, stages: 1 },
    ];

    /// The shape for an (m, n, k) product when `main` is the shape of the large ones: a product
    /// with a side of at most 128 (Mamba's x_proj and dt_proj: 80 and 48) gets a block that is
    /// that side rounded up to 16 by 128, one with a K of at most 128 slices of 16 in blocks of
    /// 128 × 48; the rest run in `main`. On the H200 these took 0.09–0.20 ms per product against
    /// 0.14–0.25 in the default shape (`probe_matmul --small`, BENCHMARKS.md §5). The small
    /// shapes are launched one workgroup per block ([`CoopShape::persistent`]).
    pub fn for_product(main: CoopShape, m: usize, n: usize, k: usize) -> CoopShape {
        let tiles = |side: usize| side.div_ceil(16);
        if n <= 128 {
            CoopShape { wm: 4, wn: 1, tm: 2, tn: tiles(n), bk: 32, stages: 1 }
        } else if m <= 128 {
            CoopShape { wm: 1, wn: 4, tm: tiles(m), tn: 2, bk: 32, stages: 1 }
        } else if k <= 128 {
            CoopShape { wm: 2, wn: 1, tm: 4, tn: 3, bk: 16, stages: 1 }
        } else {
            main
        }
    }

    /// Whether a few workgroups per SM take this shape's blocks in turn (shapes of at least 16
    /// accumulator tiles per subgroup, which fit about two workgroups per SM), or one workgroup
    /// per block (smaller shapes, more of them resident: 0.098 against 0.178 ms for x_proj's
    /// forward in 64 × 80 blocks).
    pub fn persistent(&self) -> bool {
        self.tm * self.tn >= 16
    }

    /// The K range one turn of the kernel's loop takes (`stages` slices): a split's K range
    /// and, without edge checks, K itself are multiples of it.
    pub fn step_k(&self) -> usize {
        self.bk * self.buffers()
    }

    /// Staged slices the shader's workgroup memory holds (the unstaged kernel still declares
    /// one, unused).
    fn buffers(&self) -> usize {
        self.stages.max(1)
    }

    /// Rows and columns of C one workgroup computes.
    pub fn block_m(&self) -> usize {
        self.wm * self.tm * 16
    }
    pub fn block_n(&self) -> usize {
        self.wn * self.tn * 16
    }

    /// Workgroup-memory row strides in vec4s (the staged slice's row, padded by two against bank
    /// conflicts) and vec4s of one staged slice, for A and B in their stored orientation.
    fn staging(&self, trans_a: bool, trans_b: bool) -> ((usize, usize), (usize, usize)) {
        let (bm, bn, bk) = (self.block_m(), self.block_n(), self.bk);
        let (a_rows, a_cols) = if trans_a { (bk, bm) } else { (bm, bk) };
        let (b_rows, b_cols) = if trans_b { (bn, bk) } else { (bk, bn) };
        let (sa, sb) = (a_cols / 4 + 2, b_cols / 4 + 2);
        ((sa, a_rows * sa), (sb, b_rows * sb))
    }

    /// Workgroup memory of the kernel in bytes (the larger layout).
    pub fn workgroup_bytes(&self) -> usize {
        [(false, false), (true, true), (true, false), (false, true)]
            .iter()
            .map(|&(ta, tb)| {
                let ((_, la), (_, lb)) = self.staging(ta, tb);
                self.buffers() * (la + lb) * 8
            })
            .max()
            .unwrap_or(0)
    }

    /// Why the shape cannot run with subgroups of `sg` lanes under these limits (workgroup memory
    /// bytes, invocations per workgroup), if it cannot.
    pub fn fits(&self, sg: usize, max_workgroup_bytes: usize, max_invocations: usize) -> std::result::Result<(), String> {
        let wg = self.wm * self.wn * sg;
        let per = |vec4s: usize| vec4s % wg == 0;
        if ![0, 1, 2].contains(&self.stages) || self.bk % 16 != 0 || self.bk == 0 || self.tm * self.tn == 0 {
            return Err(format!("{self:?}: stages 0, 1 or 2, bk a multiple of 16, at least one tile"));
        }
        if !per(self.block_m() * self.bk / 4) || !per(self.bk * self.block_n() / 4) {
            return Err(format!("{self:?}: the slices do not split evenly over {wg} invocations"));
        }
        if wg > max_invocations {
            return Err(format!("{self:?}: {wg} invocations per workgroup, the adapter allows {max_invocations}"));
        }
        let bytes = self.workgroup_bytes();
        if bytes > max_workgroup_bytes {
            return Err(format!("{self:?}: {bytes} bytes of workgroup memory, the adapter allows {max_workgroup_bytes}"));
        }
        Ok(())
    }

    /// The accumulator code of the shader: declarations, the tile loads of one 16-deep step, the
    /// multiply-adds and the stores (named values throughout; see the shader's header).
    fn code(&self, trans_a: bool, trans_b: bool) -> [String; 6] {
        let load = |trans: bool| if trans { "coopLoad" } else { "coopLoadT" };
        let (mut decl, mut tiles, mut mma, mut store) = (String::new(), String::new(), String::new(), String::new());
        // STAGES = 0: each tile's row / column clamped inside the operand once, loads from storage
        let (mut gclamp, mut gtiles) = (String::new(), String::new());
        for i in 0..self.tm {
            tiles += &format!("            let a{i} = {}<coop_mat16x16<f16, A>>(&sa[oa + a_tile(sr + {}u, kk)], SA);\n", load(trans_a), 16 * i);
            gclamp += &format!("        let ra{i} = min(row0 + sr + {}u, p.m - 16u);\n", 16 * i);
            let (at, stride) = if trans_a { (format!("kq * m4 + ra{i} / 4u"), "m4") } else { (format!("ra{i} * k4 + kq / 4u"), "k4") };
            gtiles += &format!("                let a{i} = {}<coop_mat16x16<f16, A>>(&a[{at}], {stride});\n", load(trans_a));
        }
        for j in 0..self.tn {
            tiles += &format!("            let b{j} = {}<coop_mat16x16<f16, B>>(&sb[ob + b_tile(kk, sc + {}u)], SB);\n", load(trans_b), 16 * j);
            gclamp += &format!("        let cb{j} = min(col0 + sc + {}u, p.n - 16u);\n", 16 * j);
            let (at, stride) = if trans_b { (format!("cb{j} * k4 + kq / 4u"), "k4") } else { (format!("kq * n4 + cb{j} / 4u"), "n4") };
            gtiles += &format!("                let b{j} = {}<coop_mat16x16<f16, B>>(&b[{at}], {stride});\n", load(trans_b));
        }
        for i in 0..self.tm {
            for j in 0..self.tn {
                decl += &format!("    var acc{i}_{j} = coop_mat16x16<f32, C>();\n");
                mma += &format!("            acc{i}_{j} = coopMultiplyAdd(a{i}, b{j}, acc{i}_{j});\n");
                store += &format!(
                    "    let r{i}_{j} = acc{i}_{j}; let i{i}_{j} = base + (sr + {}u) * n + sc + {}u; coopStoreT(r{i}_{j}, &c[i{i}_{j}], n);\n",
                    16 * i,
                    16 * j
                );
            }
        }
        [decl, tiles, mma, store, gclamp, gtiles]
    }

    /// `source` with the values both tensor-core shaders take from the shape filled in: the
    /// subgroup size, the subgroup grid, the tiles and the accumulator code.
    fn template(&self, source: &str, subgroup: u32, trans_a: bool, trans_b: bool) -> SourceTemplate {
        let [decl, tiles, mma, store, gclamp, gtiles] = self.code(trans_a, trans_b);
        SourceTemplate::new(source)
            .register("sg", subgroup.to_string())
            .register("wm", self.wm.to_string())
            .register("wn", self.wn.to_string())
            .register("tm", self.tm.to_string())
            .register("tn", self.tn.to_string())
            .register("decl", decl)
            .register("tiles", tiles)
            .register("mma", mma)
            .register("store", store)
            .register("gclamp", gclamp)
            .register("gtiles", gtiles)
    }
}

impl std::str::FromStr for CoopShape {
    type Err = String;
    /// `WMxWNxTMxTNxBKxSTAGES`, e.g. `2x2x4x4x32x1` (the default).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let v: Vec<usize> = s.split('x').map(|p| p.trim().parse::<usize>()).collect::<std::result::Result<_, _>>().map_err(|e| format!("{s:?}: {e}"))?;
        match v[..] {
            [wm, wn, tm, tn, bk, stages] => Ok(CoopShape { wm, wn, tm, tn, bk, stages }),
            _ => Err(format!("{s:?}: expected WMxWNxTMxTNxBKxSTAGES, e.g. 2x2x4x4x32x1")),
        }
    }
}

/// The shape [`matmul_coop`] and the linear layers run: [`CoopShape::DEFAULT`], or
/// `RANKMAMBA_COOP_SHAPE` (a benchmark knob, `WMxWNxTMxTNxBKxSTAGES`; a malformed value is
/// reported once on stderr and ignored).
pub fn coop_shape() -> CoopShape {
    // read once: every linear layer asks
    static SHAPE: std::sync::OnceLock<CoopShape> = std::sync::OnceLock::new();
    *SHAPE.get_or_init(|| match std::env::var("RANKMAMBA_COOP_SHAPE") {
        Ok(v) => v.parse().unwrap_or_else(|e| {
            eprintln!("warning: RANKMAMBA_COOP_SHAPE {e}; using the default {:?}", CoopShape::DEFAULT);
            CoopShape::DEFAULT
        }),
        Err(_) => CoopShape::DEFAULT,
    })
}

/// The shape [`matmul_coop`] runs an (m, n, k) product in: [`CoopShape::for_product`] of
/// [`coop_shape`], or `coop_shape` itself with `RANKMAMBA_COOP_SMALL=0` (a benchmark knob).
pub fn product_shape(m: usize, n: usize, k: usize) -> CoopShape {
    static SMALL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let small = *SMALL.get_or_init(|| std::env::var("RANKMAMBA_COOP_SMALL").as_deref() != Ok("0"));
    if small { CoopShape::for_product(coop_shape(), m, n, k) } else { coop_shape() }
}

/// Whether `device` runs the kernel: WGSL on wgpu with cooperative matrices, f16 storage and
/// subgroups.
pub fn coop_matmul_available(device: &Device) -> bool {
    is_wgsl_device(device) && crate::device::wgpu_has_shader_f16() && crate::device::wgpu_has_cooperative_matrix() && crate::device::wgpu_has_subgroups()
}

#[derive(Debug)]
struct CoopKernel {
    subgroup: u32,
    shape: CoopShape,
    /// operands stored transposed (A as (k, m), B as (n, k))
    trans_a: bool,
    trans_b: bool,
    /// sizes off the blocks: loads past the edges read zeros
    edges: bool,
}

impl KernelSource for CoopKernel {
    fn source(&self) -> SourceTemplate {
        let s = self.shape;
        let ((sa, la), (sb, lb)) = s.staging(self.trans_a, self.trans_b);
        s.template(MATMUL_COOP_WGSL, self.subgroup, self.trans_a, self.trans_b)
            .register("bk", s.bk.to_string())
            .register("stages", s.stages.to_string())
            .register("trans_a", self.trans_a.to_string())
            .register("trans_b", self.trans_b.to_string())
            .register("sa", sa.to_string())
            .register("sb", sb.to_string())
            .register("la", la.to_string())
            .register("lb", lb.to_string())
            .register("sa_len", (s.buffers() * la).to_string())
            .register("sb_len", (s.buffers() * lb).to_string())
            .register("edges", self.edges.to_string())
    }
    fn id(&self) -> KernelId {
        let s = self.shape;
        kernel_id::<Self>().info((self.subgroup, (s.wm, s.wn, s.tm, s.tn, s.bk, s.stages), self.trans_a, self.trans_b, self.edges))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// The cubecl client and subgroup size for launching a tensor-core kernel in `shape` on `device`
/// (`what` names the caller in the errors): cooperative matrices present, one subgroup size (the
/// shaders need every subgroup full; NVIDIA: 32), the shape within the adapter's limits.
fn coop_client(device: &Device, shape: CoopShape, what: &str) -> Result<(burn::cubecl::client::Client, u32)> {
    if !coop_matmul_available(device) {
        return Err(Error::Backend("this adapter has no cooperative matrices with f16 (wgpu EXPERIMENTAL_COOPERATIVE_MATRIX)".into()));
    }
    let client = client_of(device);
    let props = client.properties();
    let (sg, sg_min) = (props.hardware.plane_size_max.max(1), props.hardware.plane_size_min.max(1));
    if sg != sg_min {
        return Err(Error::Backend(format!("{what}: subgroup size varies on this adapter ({sg_min}..{sg})")));
    }
    shape
        .fits(sg as usize, props.hardware.max_shared_memory_size, props.hardware.max_units_per_cube as usize)
        .map_err(|e| Error::Backend(format!("{what}: {e}")))?;
    Ok((client, sg))
}

/// Fewest K steps one split of a split-K product sums.
const MIN_SPLIT_K: usize = 1024;

/// K splits for a product of `blocks` output blocks summing `k` in steps of `step_k`, each split
/// at least [`MIN_SPLIT_K`] long. With the device's `units` (SMs; the rule counts waves of one
/// workgroup per SM, which is how the times stepped when it was measured, BENCHMARKS.md §5): the count
/// whose waves of workgroups end first, or fewer splits within 5 % of it (each split is another
/// f32 plane of the output to write and sum). Where the count is unknown, enough powers of two to
/// have 256 workgroups.
fn splits_for(blocks: usize, k: usize, step_k: usize, units: Option<usize>) -> usize {
    let most = (k / MIN_SPLIT_K).max(1);
    let Some(units) = units.filter(|u| *u > 0) else {
        let mut s = 1;
        while blocks * s < 256 && 2 * s <= most {
            s *= 2;
        }
        return s;
    };
    // K steps until the last wave ends
    let cost = |s: usize| {
        let kc = k.div_ceil(s).next_multiple_of(step_k);
        (blocks * k.div_ceil(kc)).div_ceil(units) * kc
    };
    let best = (1..=most).map(cost).min().unwrap_or(k);
    (1..=most).find(|&s| 20 * cost(s) <= 21 * best).unwrap_or(1)
}

/// Resident workgroups per SM the persistent grid counts on.
const RESIDENT_PER_UNIT: usize = 2;

/// Workgroups of a product's grid (x) for `blocks` output blocks per split: each takes blocks
/// in turn (the shader's header), so a grid of a few per SM overlaps a block's first loads with
/// the block before. For a `persistent` shape [`RESIDENT_PER_UNIT`] per SM where the device's
/// `units` are known, else one per block. `RANKMAMBA_COOP_WORKGROUPS` (a benchmark and test knob) sets the grid instead;
/// 0 is one per block (a malformed value is reported once on stderr and ignored).
fn persistent_workgroups(blocks: usize, units: Option<usize>, persistent: bool) -> usize {
    static KNOB: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    let knob = *KNOB.get_or_init(|| {
        let v = std::env::var("RANKMAMBA_COOP_WORKGROUPS").ok()?;
        v.trim().parse().map_err(|e| eprintln!("warning: RANKMAMBA_COOP_WORKGROUPS {v:?}: {e}; using the default grid")).ok()
    });
    let grid = match knob {
        Some(0) => blocks,
        Some(g) => g,
        None if !persistent => blocks,
        None => units.filter(|u| *u > 0).map_or(blocks, |u| u * RESIDENT_PER_UNIT),
    };
    // (a grid's side is at most 65535 workgroups; the loop takes the blocks past it)
    grid.clamp(1, blocks.clamp(1, 65535))
}

/// `a · b` for `a` (m, k) and `b` (k, n) (cast to f16 unless they are; each may be a transposed
/// view, read in place), all sides multiples of 4: f16 products accumulated in f32. Sizes off the kernel's
/// blocks read zeros past the edges (the result is the (m, n) corner of the padded output);
/// products with few output blocks split K across more workgroups and sum the parts.
pub fn matmul_coop(a: Tensor<2>, b: Tensor<2>) -> Result<Tensor<2>> {
    let ([m, k], n) = (a.dims(), b.dims()[1]);
    matmul_coop_with(a, b, product_shape(m, n, k))
}

/// [`matmul_coop`] with the kernel in another [`CoopShape`] (an error if the adapter's limits
/// do not allow it).
pub fn matmul_coop_with(a: Tensor<2>, b: Tensor<2>, shape: CoopShape) -> Result<Tensor<2>> {
    matmul_coop_split(a, b, shape, None)
}

/// [`matmul_coop_with`] with K split in `splits` parts (at most; each a multiple of the K step)
/// instead of the count chosen from the product's blocks (`examples/probe_matmul.rs --shapes`
/// times the choices).
pub fn matmul_coop_split(a: Tensor<2>, b: Tensor<2>, shape: CoopShape, splits: Option<usize>) -> Result<Tensor<2>> {
    let device = a.device();
    let ([m, k], [k2, n]) = (a.dims(), b.dims());
    if k != k2 || [m, n, k].iter().any(|s| s % 4 != 0 || *s == 0) {
        return Err(Error::Input(format!("matmul_coop: ({m}, {k}) · ({k2}, {n}) needs equal inner sizes and every side a non-zero multiple of 4")));
    }
    // the unstaged kernel reads whole 16 × 16 tiles of the operands
    let shape = if shape.stages == 0 && [m, n, k].iter().any(|s| s % 16 != 0) { CoopShape::STAGED } else { shape };
    let (client, sg) = coop_client(&device, shape, "matmul_coop")?;
    let props = client.properties();
    let (block_m, block_n, step_k) = (shape.block_m(), shape.block_n(), shape.step_k());
    // f16 operands (a cast keeps a transposed view's layout, so it is still read in place)
    let input = |t: Tensor<2>| operand(raw(if t.dtype() == DType::F16 { t } else { t.cast(DType::F16) }));
    let ((a, trans_a), (b, trans_b)) = (input(a), input(b));
    let (m_pad, n_pad) = (m.next_multiple_of(block_m), n.next_multiple_of(block_n));
    // (the unstaged kernel clamps its tiles inside the operands instead)
    let edges = shape.stages > 0 && (m_pad, n_pad, k.next_multiple_of(step_k)) != (m, n, k);
    // (cubecl's SM count is empty on wgpu; the device module reads it from Vulkan)
    let units = crate::device::wgpu_compute_units().or(props.hardware.num_streaming_multiprocessors).map(|u| u as usize);
    let want = splits.unwrap_or_else(|| splits_for((m_pad / block_m) * (n_pad / block_n), k, step_k, units)).max(1);
    let kc = k.div_ceil(want).next_multiple_of(step_k);
    let splits = k.div_ceil(kc);
    let out = empty_f32(&a, &[splits, m_pad, n_pad]);
    let (blocks_x, blocks) = (n_pad / block_n, (m_pad / block_m) * (n_pad / block_n));
    let args = arguments(&[&a, &b, &out], &[m as u32, n as u32, k as u32, kc as u32, blocks_x as u32, blocks as u32, 0, 0]);
    let count = CubeCount::Static(persistent_workgroups(blocks, units, shape.persistent()) as u32, 1, splits as u32);
    let kernel = CoopKernel { subgroup: sg, shape, trans_a, trans_b, edges };
    let invocations = (shape.wm * shape.wn) as u32 * sg;
    client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(invocations))), count, args);
    let parts = plain::<3>(out).reshape([splits, m_pad * n_pad]);
    let c = if splits > 1 { sum_rows(parts) } else { parts.reshape([m_pad * n_pad]) }.reshape([m_pad, n_pad]);
    Ok(if (m_pad, n_pad) == (m, n) { c } else { c.slice([0..m, 0..n]) })
}

const MATMUL_COOP_PEAK_WGSL: &str = include_str!("../../shaders/matmul_coop_peak.wgsl");

#[derive(Debug)]
struct PeakKernel {
    subgroup: u32,
    shape: CoopShape,
    /// 0: multiply-adds alone, 1: and the tiles loaded from workgroup memory at every step,
    /// 2: and the slices staged into workgroup memory between barriers at every slice
    mode: u32,
}

impl KernelSource for PeakKernel {
    fn source(&self) -> SourceTemplate {
        self.shape.template(MATMUL_COOP_PEAK_WGSL, self.subgroup, false, false).register("mode", self.mode.to_string())
    }
    fn id(&self) -> KernelId {
        let s = self.shape;
        kernel_id::<Self>().info((self.subgroup, (s.wm, s.wn, s.tm, s.tn), self.mode))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// The multiply-add rate the tensor kernel's inner loop can reach on this adapter, without its
/// storage loads (`shaders/matmul_coop_peak.wgsl`): `workgroups` workgroups of `shape`'s
/// subgroups, each running `reps` × 4 rounds of its tm × tn multiply-adds; `mode` 0: the tiles
/// loaded once, 1: loaded from workgroup memory every round, 2: and the K slices staged into
/// workgroup memory between two barriers every fourth round, as the matmul does. Returns the
/// accumulators (wait for them to time the launch) and the launch's floating-point operations.
pub fn coop_peak(device: &Device, shape: CoopShape, workgroups: usize, reps: usize, mode: u32) -> Result<(Tensor<2>, f64)> {
    if mode > 2 {
        return Err(Error::Input(format!("coop_peak: mode {mode} (0, 1 or 2)")));
    }
    let shape = CoopShape { bk: 64, stages: 1, ..shape };
    let (client, sg) = coop_client(device, shape, "coop_peak")?;
    let (bm, bn) = (shape.block_m(), shape.block_n());
    let slice = |r: usize, c: usize| raw(Tensor::<2>::random([r, c], burn::tensor::Distribution::Uniform(-1.0, 1.0), device).cast(DType::F16));
    let (a, b) = (slice(bm, 64), slice(64, bn));
    let out = empty_f32(&a, &[workgroups * bm, bn]);
    let args = arguments(&[&a, &b, &out], &[reps as u32]);
    let kernel = PeakKernel { subgroup: sg, shape, mode };
    let invocations = (shape.wm * shape.wn) as u32 * sg;
    client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(invocations))), CubeCount::Static(workgroups as u32, 1, 1), args);
    let flops = (workgroups * shape.wm * shape.wn * shape.tm * shape.tn * reps * 4) as f64 * 2.0 * 16f64.powi(3);
    Ok((plain::<2>(out), flops))
}

/// A 2-D operand as the kernel reads it: row-major as it is, a transposed view of a row-major
/// tensor (`dy.transpose()`, `w.transpose()`) as its storage with `true`, anything else copied
/// row-major.
pub(crate) fn operand(t: CubeTensor) -> (CubeTensor, bool) {
    let (shape, strides) = (t.meta.shape(), t.meta.strides());
    let transposed = !t.meta.is_tiled() && shape.num_dims() == 2 && strides[0] == 1 && strides[1] == shape[0];
    if transposed && !t.is_contiguous() { (t, true) } else { (into_contiguous(t), false) }
}

#[cfg(test)]
mod tests {
    use super::{operand, splits_for, CoopKernel, CoopShape};

    #[test]
    fn shapes_parse_from_the_knob_format() {
        assert_eq!("2x2x4x4x32x1".parse::<CoopShape>().unwrap(), CoopShape::DEFAULT);
        assert!("2x2x4x4x64".parse::<CoopShape>().unwrap_err().contains("WMxWNxTMxTNxBKxSTAGES"));
        assert!("2x2x4x4xfourx1".parse::<CoopShape>().is_err());
    }
    use burn::backend::wgpu::KernelSource;

    /// Every candidate shape's shader, in every layout, parses, validates and is written to
    /// SPIR-V by naga as wgpu does on Vulkan (naga's SPIR-V writer has refused forms the validator
    /// accepts), so a shape is not first found broken on the GPU.
    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn every_candidate_shape_compiles_to_spirv() {
        let to_spirv = crate::ops::kernel::wgsl_to_spirv;
        let mut runnable = 0;
        for shape in CoopShape::CANDIDATES.into_iter().chain(CoopShape::SMALL_CANDIDATES) {
            // the H200's limits under Vulkan: 32 lanes, 48 KiB of workgroup memory
            if shape.fits(32, 48 << 10, 1024).is_err() {
                continue;
            }
            runnable += 1;
            for (trans_a, trans_b, edges) in [(false, false, false), (true, false, true), (false, true, false), (true, true, true)] {
                let kernel = CoopKernel { subgroup: 32, shape, trans_a, trans_b, edges };
                to_spirv(&kernel.source().complete(), &format!("{shape:?} trans_a {trans_a} trans_b {trans_b} edges {edges}"));
            }
        }
        assert!(runnable >= 6 + CoopShape::SMALL_CANDIDATES.len(), "only {runnable} candidate shapes fit the H200's limits");
        // the ceiling probe, with the matmul's accumulator code
        for mode in 0..3 {
            let kernel = super::PeakKernel { subgroup: 32, shape: CoopShape::DEFAULT, mode };
            to_spirv(&kernel.source().complete(), &format!("peak probe, mode {mode}"));
        }
        // a shape whose slices do not divide over its invocations is refused, not launched
        let odd = CoopShape { wm: 4, wn: 4, tm: 1, tn: 1, bk: 16, stages: 1 };
        assert!(odd.fits(32, 48 << 10, 1024).unwrap_err().contains("do not split evenly"));
        assert!(CoopShape { bk: 64, stages: 2, ..CoopShape::DEFAULT }.fits(32, 48 << 10, 1024).unwrap_err().contains("workgroup memory"));
    }

    #[test]
    fn a_shape_off_the_kernel_s_forms_is_refused_with_its_fields() {
        let bad = CoopShape { stages: 3, ..CoopShape::DEFAULT }.fits(32, 48 << 10, 1024).unwrap_err();
        assert!(bad.contains("stages: 3") && bad.contains("stages 0, 1 or 2"), "{bad}");
        let bad = CoopShape { bk: 24, ..CoopShape::DEFAULT }.fits(32, 48 << 10, 1024).unwrap_err();
        assert!(bad.contains("bk: 24") && bad.contains("bk a multiple of 16"), "{bad}");
        // the unstaged kernel still declares one slice of workgroup memory: counted as one
        let unstaged = CoopShape { stages: 0, ..CoopShape::DEFAULT };
        assert_eq!(unstaged.workgroup_bytes(), CoopShape::DEFAULT.workgroup_bytes());
    }

    #[test]
    fn the_ceiling_probe_names_a_mode_it_does_not_have() {
        let cpu = crate::DeviceChoice::Cpu.device().unwrap();
        let err = super::coop_peak(&cpu, CoopShape::DEFAULT, 1, 1, 3).unwrap_err().to_string();
        assert!(err.contains("coop_peak: mode 3"), "{err}");
    }

    #[test]
    fn the_persistent_grid_is_a_few_workgroups_per_sm_or_one_per_block() {
        // (RANKMAMBA_COOP_WORKGROUPS unset)
        assert_eq!(super::persistent_workgroups(3072, Some(132), true), 264);
        assert_eq!(super::persistent_workgroups(100, Some(132), true), 100);
        assert_eq!(super::persistent_workgroups(3072, None, true), 3072);
        assert_eq!(super::persistent_workgroups(100_000, None, true), 65535);
        assert_eq!(super::persistent_workgroups(0, Some(132), true), 1);
        // the small shapes: one per block
        assert_eq!(super::persistent_workgroups(3072, Some(132), false), 3072);
        assert!(CoopShape::DEFAULT.persistent());
        assert!(!CoopShape::for_product(CoopShape::DEFAULT, 32768, 80, 1536).persistent());
    }

    #[test]
    fn small_products_get_blocks_of_their_narrow_side() {
        let main = CoopShape::DEFAULT;
        let shape = |m, n, k| {
            let s = CoopShape::for_product(main, m, n, k);
            assert!(s.fits(32, 48 << 10, 1024).is_ok(), "{m}×{n}×{k}: {s:?}");
            (s.block_m(), s.block_n(), s.bk)
        };
        // Mamba-130m at 64 × 512: x_proj's forward, dx, dW; dt_proj's forward, dx, dW
        assert_eq!(shape(32768, 80, 1536), (128, 80, 32));
        assert_eq!(shape(32768, 1536, 80), (128, 48, 16));
        assert_eq!(shape(80, 1536, 32768), (80, 128, 32));
        assert_eq!(shape(32768, 1536, 48), (128, 48, 16));
        assert_eq!(shape(32768, 48, 1536), (128, 48, 32));
        assert_eq!(shape(1536, 48, 32768), (128, 48, 32));
        // a side off the 16s rounds up (the kernel reads zeros past it); the large products keep
        // the main shape
        assert_eq!(shape(32768, 36, 512), (128, 48, 32));
        assert_eq!(CoopShape::for_product(main, 32768, 1536, 768), main);
        assert_eq!(CoopShape::for_product(main, 768, 1536, 32768), main);
    }

    #[test]
    fn k_is_split_only_for_few_blocks_and_long_sums() {
        // weight gradients of a 64 × 512 Mamba-130m step (K = 32768 tokens): x_proj's 1 × 12
        // blocks, in_proj's half 12 × 6; a forward's 256 × 12 blocks; a short K. On the H200's
        // 132 SMs: 11 splits of 12 blocks are one full wave; 7 of 72 blocks are within 5 % of
        // the best (11: six full waves)
        assert_eq!(splits_for(12, 32768, 32, Some(132)), 11);
        assert_eq!(splits_for(72, 32768, 32, Some(132)), 7);
        assert_eq!(splits_for(12, 32768, 32, Some(120)), 10);
        assert_eq!(splits_for(3072, 768, 32, Some(132)), 1);
        assert_eq!(splits_for(1, 1536, 32, Some(132)), 1);
        // no unit count: powers of two up to 256 workgroups
        assert_eq!(splits_for(12, 32768, 32, None), 32);
        assert_eq!(splits_for(72, 32768, 32, None), 4);
        assert_eq!(splits_for(3072, 768, 32, None), 1);
        assert_eq!(splits_for(1, 1536, 32, None), 1);
    }
    use crate::ops::kernel::raw;
    use burn::tensor::{Distribution, Tensor};

    #[test]
    fn transposed_views_are_read_in_place_and_others_copied() {
        if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
            return;
        }
        let dev = crate::DeviceChoice::Wgpu.device().unwrap();
        let t = Tensor::<2>::random([64, 48], Distribution::Default, &dev);
        let kind = |t: Tensor<2>| {
            let (c, trans) = operand(raw(t));
            (trans, c.is_contiguous())
        };
        assert_eq!(kind(t.clone()), (false, true));
        assert_eq!(kind(t.clone().transpose()), (true, false));
        // a column slice is neither: made contiguous
        assert_eq!(kind(t.clone().narrow(1, 0, 16)), (false, true));
        // a row slice of a transposed view (its stored rows are longer than the view): copied
        assert_eq!(kind(t.transpose().narrow(0, 0, 16)), (false, true));
    }
}
