"""Tiny randomly initialised transformer models built in-process, fully offline."""

from __future__ import annotations

from pathlib import Path

WORDS = ("the a and was were had has she he they it in on at of to for with from by "
         "kitchen table window garden letter door car phone box road house water").split()


def tiny_tokenizer(model_max_length: int = 128):
    """A word-level fast tokenizer with [PAD]/[UNK]/[CLS]/[SEP], trained on nothing."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]",
                                   model_max_length=model_max_length)


def save_tiny_classifier(folder: Path, labels: list[str], seed: int = 0) -> Path:
    """A 2-layer BERT sequence classifier with the given labels, saved as a local model folder."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    tok = tiny_tokenizer()
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                     num_labels=len(labels), id2label=dict(enumerate(labels)),
                     label2id={lab: i for i, lab in enumerate(labels)})
    model = BertForSequenceClassification(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_loaded(arch: str, seed: int = 0, padding_side: str = "right"):
    """A LoadedModel around a 2-layer random Llama, GPT-2 or BERT (hidden 64)."""
    import torch
    from transformers import (
        BertConfig,
        BertModel,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
    )

    from affect_battery.analyses.models import LoadedModel

    torch.manual_seed(seed)
    tok = tiny_tokenizer()
    tok.padding_side = padding_side
    v = len(tok)
    if arch == "llama":
        cfg = LlamaConfig(vocab_size=v, hidden_size=64, intermediate_size=128,
                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          max_position_embeddings=256, pad_token_id=0)
        model, kind = LlamaForCausalLM(cfg), "causal"
    elif arch == "gpt2":
        cfg = GPT2Config(vocab_size=v, n_embd=64, n_layer=2, n_head=4, n_positions=256,
                         pad_token_id=0)
        model, kind = GPT2LMHeadModel(cfg), "causal"
    elif arch == "bert":
        cfg = BertConfig(vocab_size=v, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=128, max_position_embeddings=256)
        model, kind = BertModel(cfg), "encoder"
    else:
        raise ValueError(arch)
    model.eval()
    return LoadedModel(model, tok, f"tiny-{arch}", "in-process", "random", kind, "cpu", "float32")


def save_tiny_llama_lm(folder: Path) -> Path:
    """A 2-layer random Llama whose word-level tokenizer knows the nine answer labels, saved as
    a model folder: what `analyze --model FOLDER` runs on in the whole-run tests."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from affect_battery.analyses.prompts import ANSWER_LABELS

    tok = tiny_tokenizer(model_max_length=512)
    tok.add_tokens(list(ANSWER_LABELS))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, pad_token_id=0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
