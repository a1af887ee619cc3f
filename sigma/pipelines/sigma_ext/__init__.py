"""sigma-ext's pySigma plugin: makes the ``sigma_ext_gke_method`` transformation known to pySigma.

pySigma finds plugins by importing every module of the namespace package ``sigma.pipelines``
(``InstalledSigmaPlugins.autodiscover``, which sigma-cli runs before it loads a pipeline). This
module is installed with sigma-ext; importing it registers the transformation, so
``sigma convert -p mappings/elastic/kubernetes_audit_gke.yml`` loads the GKE mapping without any
other step. It offers no named pipelines: the mappings are files (``mappings/``).
"""

from collections.abc import Callable

from sigma.processing.pipeline import ProcessingPipeline

from sigma_ext.content.gke_method import register

register()

# Without __all__, pySigma would register every public function here as a pipeline.
__all__ = ["pipelines"]

pipelines: dict[str, Callable[[], ProcessingPipeline]] = {}
