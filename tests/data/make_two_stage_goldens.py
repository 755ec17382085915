"""Golden values from torchvision for the two-stage detectors' shared pieces (run by hand).

    /work/venv-tv/bin/python tests/data/make_two_stage_goldens.py

writes ``tests/data/two_stage_goldens.npz`` (inputs and torchvision's outputs) for
``tests/test_two_stage_parts.py``: anchors (``AnchorGenerator``), the box coder
(``BoxCoder`` encode/decode, weights and the clamp), the matcher (``Matcher``), the
two losses (``fastrcnn_loss``, ``RegionProposalNetwork.compute_loss``), the proposal
layer (``RegionProposalNetwork.filter_proposals``) and the box head's post-processing
(``RoIHeads.postprocess_detections``). torch 2.14.1, torchvision 0.29.1.
"""

import os

import numpy as np
import torch
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead

out = {}
rng = np.random.default_rng(16)

# ---------------------------------------------------------------- anchors
ANCHOR_CASES = [  # (image (H, W), feature (Hf, Wf), sizes, ratios)
    ((64, 64), (16, 16), (12, 20, 28), (0.5, 1.0, 2.0)),
    ((64, 48), (8, 6), (16, 32), (1.0,)),
    ((100, 60), (13, 7), (10, 15, 25), (0.7, 1.3)),   # strides 100 // 13 = 7, 60 // 7 = 8; odd halves
]
for c, (image, feat, sizes, ratios) in enumerate(ANCHOR_CASES):
    gen = AnchorGenerator(sizes=(sizes,), aspect_ratios=(ratios,))
    images = ImageList(torch.zeros(1, 3, *image), [image])
    fmap = torch.zeros(1, 4, *feat)
    out[f"anchors_{c}"] = gen(images, [fmap])[0].numpy()

# ---------------------------------------------------------------- box coder
def random_boxes(n, scale=60.0):
    xy = rng.uniform(0, scale, size=(n, 2))
    wh = rng.uniform(2, scale / 2, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


gt, ref = random_boxes(40), random_boxes(40)
out["coder_gt"], out["coder_ref"] = gt, ref
for name, w in (("unit", (1.0, 1.0, 1.0, 1.0)), ("head", (10.0, 10.0, 5.0, 5.0))):
    coder = det_utils.BoxCoder(w)
    out[f"coder_encode_{name}"] = coder.encode_single(torch.tensor(gt), torch.tensor(ref)).numpy()
    deltas = rng.normal(0, 1.5, size=(40, 12))
    deltas[:5, 2] = 9.0                                      # above the clamp log(1000/16) = 4.135
    deltas[5:10, 7] = 30.0
    out[f"coder_deltas_{name}"] = deltas
    out[f"coder_decode_{name}"] = coder.decode_single(torch.tensor(deltas), torch.tensor(ref)).numpy()

# ---------------------------------------------------------------- matcher
q = rng.uniform(0, 0.9, size=(5, 60))                        # (G, P): torchvision's orientation
q[2] = rng.uniform(0, 0.5, size=60)                          # box 2 overlaps little ...
q[2, [17, 33]] = 0.6                                         # ... at best 0.6, tied: a low-quality match
q[4, 17] = 0.62                                              # anchor 17 itself prefers box 4
q[:, 40] = 0.5                                               # between thresholds
out["match_iou"] = q.T.copy()                                # ours: (P, G)
for name, args in (("rpn", (0.7, 0.3, True)), ("rpn_strict", (0.7, 0.3, False)), ("head", (0.5, 0.5, False))):
    out[f"match_{name}"] = det_utils.Matcher(*args)(torch.tensor(q)).numpy()

# ---------------------------------------------------------------- losses
r, k1 = 24, 5
logits = rng.normal(size=(r, k1))
box_regression = rng.normal(size=(r, 4 * k1))
labels = rng.integers(0, k1, size=r)
labels[:6] = 0
targets = rng.normal(0, 0.3, size=(r, 4))
cls_loss, box_loss = fastrcnn_loss(torch.tensor(logits), torch.tensor(box_regression),
                                   [torch.tensor(labels)], [torch.tensor(targets)])
out.update(head_logits=logits, head_deltas=box_regression, head_labels=labels, head_targets=targets,
           head_loss=np.array([cls_loss.item(), box_loss.item()]))

a = 80
objectness = rng.normal(size=(a, 1))
pred_deltas = rng.normal(0, 0.2, size=(a, 4))
rpn_labels = np.full(a, -1.0)
rpn_labels[rng.choice(a, 30, replace=False)] = 0.0
rpn_labels[rng.choice(np.flatnonzero(rpn_labels == -1), 8, replace=False)] = 1.0
rpn_targets = rng.normal(0, 0.2, size=(a, 4))


class FixedSampler:
    """Make compute_loss use exactly the labels given (1 / 0 sampled, -1 not)."""

    def __call__(self, labels):
        return [(lab == 1).to(torch.uint8) for lab in labels], [(lab == 0).to(torch.uint8) for lab in labels]


rpn = RegionProposalNetwork(AnchorGenerator(), RPNHead(4, 3), 0.7, 0.3, 256, 0.5,
                            dict(training=100, testing=100), dict(training=100, testing=100), 0.7)
rpn.fg_bg_sampler = FixedSampler()
obj_loss, rpn_box_loss = rpn.compute_loss(torch.tensor(objectness), torch.tensor(pred_deltas),
                                          [torch.tensor(rpn_labels)], [torch.tensor(rpn_targets)])
out.update(rpn_objectness=objectness[:, 0], rpn_deltas=pred_deltas, rpn_labels=rpn_labels.astype(np.int64),
           rpn_targets=rpn_targets, rpn_loss=np.array([obj_loss.item(), rpn_box_loss.item()]))

# ---------------------------------------------------------------- the proposal layer
image_size, feat = (48, 48), (12, 12)
gen = AnchorGenerator(sizes=((12, 20, 28),), aspect_ratios=((0.5, 1.0, 2.0),))
anchors = gen(ImageList(torch.zeros(2, 3, *image_size), [image_size] * 2), [torch.zeros(2, 4, *feat)])
n_anchors = anchors[0].shape[0]
objectness = rng.normal(0, 2, size=(2, n_anchors)).astype(np.float32)
deltas = rng.normal(0, 0.3, size=(2, n_anchors, 4)).astype(np.float32)
deltas[:, :50, 2:] = -8.0                                    # tiny boxes: dropped by min_size
rpn = RegionProposalNetwork(gen, RPNHead(4, 9), 0.7, 0.3, 256, 0.5, dict(training=300, testing=300),
                            dict(training=100, testing=100), 0.7, score_thresh=0.05)
rpn.eval()
rpn.min_size = 0.5
proposals = rpn.box_coder.decode(torch.tensor(deltas).reshape(-1, 4), anchors).view(2, -1, 4)
boxes, scores = rpn.filter_proposals(proposals, torch.tensor(objectness), [image_size] * 2, [n_anchors])
out.update(prop_objectness=objectness, prop_deltas=deltas)
for i in range(2):
    out[f"prop_boxes_{i}"], out[f"prop_scores_{i}"] = boxes[i].numpy(), scores[i].numpy()

# ---------------------------------------------------------------- the box head's post-processing
num_props, k1 = 50, 5
props = torch.tensor(random_boxes(num_props, scale=56.0), dtype=torch.float32)
class_logits = torch.tensor(rng.normal(0, 2, size=(num_props, k1)), dtype=torch.float32)
box_regression = torch.tensor(rng.normal(0, 1, size=(num_props, 4 * k1)), dtype=torch.float32)
heads = RoIHeads(None, None, None, 0.5, 0.5, 512, 0.25, (10.0, 10.0, 5.0, 5.0), score_thresh=0.05,
                 nms_thresh=0.5, detections_per_img=30)
b, sc, lab = heads.postprocess_detections(class_logits, box_regression, [props], [image_size])
out.update(post_proposals=props.numpy(), post_logits=class_logits.numpy(), post_deltas=box_regression.numpy(),
           post_boxes=b[0].numpy(), post_scores=sc[0].numpy(), post_labels=lab[0].numpy())

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "two_stage_goldens.npz")
np.savez_compressed(path, **out)
print(f"wrote {path}: {len(out)} arrays, {os.path.getsize(path)} bytes")
