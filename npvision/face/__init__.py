"""Face verification and one-shot recognition: Siamese encoders, the triplet loss, mining,
verification as binary classification, thresholds chosen by cross-validation.

The course's week 4 in one package. A ConvNet ``f`` maps a face to a 128-number
encoding on the unit sphere; two faces are the same person when their encodings
are close. ``f`` is trained so that they are:

=====================================  ==============================================
``FaceEncoder``, ``Siamese``, ``embed``  the encoder (a small ResNet + ``L2Normalize``), its
                                         branches run as one batch (module ``encoder``)
``triplet_loss``, ``triplet_hinge``      the course's loss (squared L2, summed), and its
                                         hinge for any margin (module ``losses``)
``batch_all_triplet_loss``,              online mining over P x K batches
``batch_hard_triplet_loss``,
``semi_hard_triplet_loss``
``contrastive_loss``                     pairs, Hadsell et al. 2006
``PairClassifier``                       a logistic unit on ``|f_i - f_j|`` or the chi-square
                                         features: verification as binary classification
``CosineSoftmaxHead``                    proxies of the training identities: an encoder
                                         trained by classification (NormFace)
``PKSampler``, ``random_triplets``       batches and the no-mining baseline (``sampling``)
``train_encoder``                        the training loop for all of them (``training``)
``make_verification_pairs``,             10-fold verification accuracy, ROC, VAL@FAR,
``kfold_verification``, ``roc_curve``,   N-way one-shot accuracy (``evaluation``)
``val_at_far``, ``one_shot_accuracy``
``verify``, ``who_is_it``,               the course's door: 1:1 and 1:K against stored
``EncodingDatabase``                     encodings (``recognition``)
=====================================  ==============================================

Data: :func:`npvision.data.make_face_identities` and :func:`npvision.data.render_faces`
draw synthetic people and their photos; ``npvision train face`` trains and scores
an encoder on held-out people; ``npvision verify`` and ``npvision who`` use it.
"""

from .binary import *  # noqa: F401,F403
from .distances import *  # noqa: F401,F403
from .encoder import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .proxies import *  # noqa: F401,F403
from .recognition import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403
from . import binary, distances, encoder, evaluation, losses, proxies, recognition, sampling, training

__all__ = (binary.__all__ + distances.__all__ + encoder.__all__ + evaluation.__all__ + losses.__all__
           + proxies.__all__ + recognition.__all__ + sampling.__all__ + training.__all__)
