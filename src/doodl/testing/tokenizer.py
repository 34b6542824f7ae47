"""An offline CLIPTokenizer over single letters: diffusers' tests download a tiny one, we build it instead."""

from __future__ import annotations

import json
import os
import string
import tempfile


def tiny_clip_tokenizer(model_max_length: int = 77, save_dir: str | os.PathLike | None = None):
    """A CLIPTokenizer whose vocabulary is a-z, their '</w>' forms and the special tokens (ids < 60).

    Different prompts embed differently (each letter is a token); model_max_length must be set or the
    SD pipeline overflows. With save_dir the vocabulary files are written there (kept), else to a temp folder.
    """
    from transformers import CLIPTokenizer

    letters = list(string.ascii_lowercase)
    tokens = ["<|startoftext|>", "<|endoftext|>", "!"] + letters + [c + "</w>" for c in letters]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    folder = save_dir if save_dir is not None else tempfile.mkdtemp(prefix="doodl-tok-")
    os.makedirs(folder, exist_ok=True)
    vocab_file = os.path.join(folder, "vocab.json")
    merges_file = os.path.join(folder, "merges.txt")
    with open(vocab_file, "w", encoding="utf-8") as f:
        json.dump(vocab, f)
    with open(merges_file, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
    # from_pretrained reads vocab.json/merges.txt in transformers 4 (slow tokenizer) and 5 (tokenizers-backed) alike
    return CLIPTokenizer.from_pretrained(folder, model_max_length=model_max_length, pad_token="!")


def tiny_t5_tokenizer(model_max_length: int = 512):
    """A T5TokenizerFast over single letters, built offline: a Unigram model with a Metaspace pre-tokenizer.

    transformers 5 reloads a saved T5 tokenizer only when it is a Unigram model (a WordLevel one saves but
    fails to load). Ids: 0 <pad>, 1 </s> (appended to every text), 2 <unk>, then the pieces (< 56 in all).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [("\u2581" + c, -1.0) for c in string.ascii_lowercase] + [(c, -1.5) for c in string.ascii_lowercase]
    tok = Tokenizer(models.Unigram(pieces, unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=tok, extra_ids=0, eos_token="</s>", unk_token="<unk>",
                           pad_token="<pad>", model_max_length=model_max_length)
