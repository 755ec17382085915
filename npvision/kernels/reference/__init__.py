"""The naive references: each op's math as plain loops over an already padded input.

These are the loops to read (and step into) first, the course's ``conv_forward`` /
``conv_backward`` / ``pool_forward`` / ``pool_backward``, and the oracle every fast
kernel is tested against. Each takes the padded input ``xp`` and resolved ``(h, w)``
pairs; none carries a bias, a blocking plan or a thread (the ``naive`` backend of
:mod:`npvision.kernels` pads, calls them and adds the bias).

==========================  ====================================================
file                        functions
==========================  ====================================================
``conv2d.py``               ``conv2d_forward``, ``conv2d_backward``
``conv_transpose2d.py``     ``conv_transpose2d_forward``, ``conv_transpose2d_backward``
``depthwise_conv2d.py``     ``depthwise_conv2d_forward``, ``depthwise_conv2d_backward``
``pool2d.py``               ``max_pool2d_forward`` / ``_backward``, ``max_unpool2d_backward``,
                            ``avg_pool2d_forward`` / ``_backward``
==========================  ====================================================
"""
