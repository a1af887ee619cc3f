"""Run compiled SIEM queries on the documents those SIEMs store, with the engines' semantics.

One question for every evaluator: does rule R, as compiled for target T, match event E? The
reference evaluator answers it for the Sigma rule; this package answers it for the query the
build emits, on the document ``sigma_ext.emulate.documents`` builds from the event:

* ``splunk_search``: SPL (search command terms, ``eval``/``where`` with ``mvappend``,
  ``mvfilter``, ``match``, ``mvcount``; ``regex``; ``spath input=``);
* ``lucene``: Lucene ``query_string`` as Kibana runs detection rules (parsed by luqum, which
  comes with the optional extra ``emulate``: ``pip install sigma-ext[emulate]``);
* ``esql``: an ES|QL subset (``FROM``, ``WHERE``, ``EVAL``, ``MV_EXPAND``, ``KEEP``, ``LIMIT``);
* ``spl_stats`` and ``esql_stats``: searches over many events, as the correlation queries run
  (SPL ``multisearch``, ``bin``, ``stats ... by``; ES|QL ``STATS ... BY``);
* ``lucene_regexp``: Lucene regular expressions (``/re/`` in Lucene, ES|QL ``RLIKE``).

Every construct outside the implemented subset raises ``Unsupported`` rather than guessing;
a query the real engine would reject raises ``QueryError``. ``docs/query-emulation.md`` lists
what is implemented and where each rule comes from.
"""

from __future__ import annotations


class Unsupported(Exception):
    """A query construct the emulator does not implement."""


class QueryError(Exception):
    """The real engine would reject this query (syntax error, unknown column, bad type)."""


class MissingExtra(ImportError):
    """An emulator needs a package of the optional extra ``emulate`` that is not installed."""
