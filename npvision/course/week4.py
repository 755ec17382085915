"""Week 4 (face recognition, neural style transfer): a place kept for the course's functions.

The eight numerical exercises of week 4 wrap npvision modules that are being
written on other branches; they are added here when those exist:

========================================  =========================================  ==========
course function                           will wrap                                  branch
========================================  =========================================  ==========
``triplet_loss(y_true, y_pred, alpha)``   :func:`npvision.face.triplet_loss`         ``face``
``verify(image_path, identity,            :func:`npvision.face.verify`               ``face``
database, model)``
``who_is_it(image_path, database,         :func:`npvision.face.who_is_it`            ``face``
model)``
``compute_content_cost(a_C, a_G)``        :func:`npvision.style.content_cost`        ``style``
``gram_matrix(A)``                        :func:`npvision.style.gram_matrix`         ``style``
``compute_layer_style_cost(a_S, a_G)``    :func:`npvision.style.layer_style_cost`    ``style``
``compute_style_cost(style_image_output,  :func:`npvision.style.style_cost`          ``style``
generated_image_output, STYLE_LAYERS)``
``total_cost(J_content, J_style,          :func:`npvision.style.total_cost`          ``style``
alpha=10, beta=40)``
========================================  =========================================  ==========

Adding one is: the function in this file (course signature, calling the
npvision function, the differences from npvision in its docstring), its name in
``__all__``, and one entry in :data:`npvision.grading.EXERCISES` (the table's
week-4 block lists them, commented out, with the cases each needs).
"""

from __future__ import annotations

__all__: list[str] = []

#: The week-4 exercises still to come: name -> (npvision function it will wrap, branch).
PENDING = {
    "triplet_loss": ("npvision.face.triplet_loss", "face"),
    "verify": ("npvision.face.verify", "face"),
    "who_is_it": ("npvision.face.who_is_it", "face"),
    "compute_content_cost": ("npvision.style.content_cost", "style"),
    "gram_matrix": ("npvision.style.gram_matrix", "style"),
    "compute_layer_style_cost": ("npvision.style.layer_style_cost", "style"),
    "compute_style_cost": ("npvision.style.style_cost", "style"),
    "total_cost": ("npvision.style.total_cost", "style"),
}
