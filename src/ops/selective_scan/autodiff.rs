//! The WGSL scan under burn's autodiff: the forward keeps the state entering every chunk of the
//! backward's length; the registered backward runs `shaders/selective_scan_backward.wgsl`.

use super::wgpu::{backward, backward_chunk_len, forward, ScanOptions};
use super::{HalfResults, ScanInputs};
use crate::ops::kernel::{plain, raw};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor};
use burn::tensor::{DType, Tensor};

type Ad<C> = Autodiff<CubeBackend, C>;

/// What the backward needs: the forward's inputs and saved states, as raw wgpu tensors.
#[derive(Debug, Clone)]
struct Saved {
    inputs: [CubeTensor; 8],
    saved_states: Option<CubeTensor>,
}

/// which gradients are written in f16
#[derive(Debug)]
struct ScanBackward(HalfResults);

/// The gated scan's inputs from raw tensors in [`ScanInputs`] order (u, Δ, bias, A, B, C, D, z).
fn inputs(raw: [CubeTensor; 8]) -> ScanInputs {
    let [u, delta, delta_bias, a, b, c, d, z] = raw;
    ScanInputs {
        u: plain(u),
        delta: plain(delta),
        delta_bias: plain(delta_bias),
        a: plain(a),
        b: plain(b),
        c: plain(c),
        d: plain(d),
        z: Some(plain(z)),
    }
}

impl Backward<CubeBackend, 8> for ScanBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 8>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        // (f32 for the kernel; a no-op unless an f16 output's gradient came in f16)
        let dout = plain::<3>(grads.consume::<CubeBackend>(&ops.node)).cast(DType::F32);
        let opts = ScanOptions { half: self.0, ..Default::default() };
        let g = backward(inputs(ops.state.inputs), ops.state.saved_states.map(plain::<4>), dout, &opts);
        let z = g.z.expect("the gated scan has a z gradient");
        let grads_in: [CubeTensor; 8] =
            [raw(g.u), raw(g.delta), raw(g.delta_bias), raw(g.a), raw(g.b), raw(g.c), raw(g.d), raw(z)];
        for (parent, grad) in ops.parents.into_iter().zip(grads_in) {
            if let Some(node) = parent {
                grads.register::<CubeBackend>(node.id, grad);
            }
        }
    }
}

/// The gated scan with gradients, for a wgpu autodiff device with checkpoint strategy `C`.
pub fn selective_scan_autodiff<C: CheckpointStrategy>(x: ScanInputs, half: HalfResults) -> Tensor<3>
where
    DispatchTensor: DispatchKindConversion<Ad<C>>,
{
    let z = x.z.expect("the autodiff kernel path is the gated scan");
    let u = x.u.try_into_primitive::<Ad<C>>().expect("u on the autodiff device");
    let delta = x.delta.try_into_primitive::<Ad<C>>().expect("delta on the autodiff device");
    let delta_bias = x.delta_bias.try_into_primitive::<Ad<C>>().expect("delta_bias on the autodiff device");
    let a = x.a.try_into_primitive::<Ad<C>>().expect("A on the autodiff device");
    let b = x.b.try_into_primitive::<Ad<C>>().expect("B on the autodiff device");
    let c = x.c.try_into_primitive::<Ad<C>>().expect("C on the autodiff device");
    let d = x.d.try_into_primitive::<Ad<C>>().expect("D on the autodiff device");
    let z = z.try_into_primitive::<Ad<C>>().expect("z on the autodiff device");
    let guards = [u.node(), delta.node(), delta_bias.node(), a.node(), b.node(), c.node(), d.node(), z.node()];
    let raw_inputs = [
        u.into_primitive(),
        delta.into_primitive(),
        delta_bias.into_primitive(),
        a.into_primitive(),
        b.into_primitive(),
        c.into_primitive(),
        d.into_primitive(),
        z.into_primitive(),
    ];
    let n = raw_inputs[3].meta.shape()[1];
    let run = |raw: &[CubeTensor; 8], save_every: Option<usize>| {
        forward(inputs(raw.clone()), &ScanOptions { save_every, half, ..Default::default() })
    };
    let out = match ScanBackward(half).prepare::<C>(guards).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            // the training forward: the state entering every chunk of the backward's length kept
            let fwd = run(&raw_inputs, Some(backward_chunk_len(n)));
            let saved = Saved { saved_states: fwd.saved_states.map(raw), inputs: raw_inputs };
            prep.finish(saved, raw(fwd.out))
        }
        OpsKind::UnTracked(prep) => prep.finish(raw(run(&raw_inputs, None).out)),
    };
    Tensor::<3>::from_primitive::<Ad<C>>(out)
}
