"""Training of the project's tiny CLIP on crops of synthetic rooms: template captions, the crop data set,
the training loop and the zero-shot evaluation. The model, crops and prompts are the runtime's
(``model.clip``); open_clip provides the network, tokenizer and loss.
"""
