"""Data for npvision: built-in datasets, synthetic scenes, loaders and augmentation.

Nothing is downloaded at run time. The built-in data either ships inside the package
(:func:`load_digits`, :func:`load_image`; licences in ``assets/LICENSES.md``) or is
generated from a seed (:func:`make_scenes`, :func:`make_face_identities`). Users' own data comes in through
:func:`load_image_folder`, :func:`load_npz` and :func:`load_yolo_labels`.
Augmentations live in :mod:`npvision.data.augment` (geometric, test-time) and
:mod:`npvision.data.photometric` (colour); the most used are re-exported here.
"""

from .augment import *  # noqa: F401,F403
from .augment import __all__ as _augment_all
from .builtin import *  # noqa: F401,F403
from .builtin import __all__ as _builtin_all
from .loaders import *  # noqa: F401,F403
from .loaders import __all__ as _loaders_all
from .scenes import *  # noqa: F401,F403
from .scenes import __all__ as _scenes_all
from .faces import *  # noqa: F401,F403
from .faces import __all__ as _faces_all

__all__ = [*_builtin_all, *_scenes_all, *_loaders_all, *_augment_all, *_faces_all]
