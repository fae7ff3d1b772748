"""Write notebooks/*.ipynb from the cell sources below (outputs empty; CI executes them).

Run: python tools/make_notebooks.py
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent.parent / "notebooks"
SETUP = ("import os\n"
         "QUICK = os.environ.get('FLASH_QUICK') == '1'  # CI runs every notebook in this quick mode\n"
         "from IPython.display import Image, display\n"
         "import flash\n"
         "flash.seed_everything(42)")

NOTEBOOKS = {
    "01_quickstart.ipynb": [
        ("md", "# flash in three lines\n\nPick a task, point it at data, train. Here: real handwritten digits that ship "
               "with flash, so everything runs offline on a laptop CPU."),
        ("code", SETUP),
        ("code", "from flash.image import ImageClassifier\n"
                 "from flash.image.classification.demo import demo_datamodule, load_digits\n\n"
                 "datamodule = demo_datamodule(batch_size=64, transform_kwargs={'image_size': (16, 16)})\n"
                 "model = ImageClassifier(backbone='test_resnet' if QUICK else 'resnet18', pretrained=False, labels=datamodule.labels)\n"
                 "trainer = flash.Trainer(max_epochs=1 if QUICK else 5, limit_train_batches=3 if QUICK else None)\n"
                 "trainer.finetune(model, datamodule=datamodule, strategy='no_freeze')"),
        ("md", "## Predict on new inputs\n\n`model.predict` takes paths, folders, PIL images, arrays or tensors."),
        ("code", "images, targets = load_digits()\n"
                 "print('predicted:', model.predict(images[:10]))\n"
                 "print('true:     ', [str(t) for t in targets[:10]])"),
        ("md", "## Save, reload, and look at the training curves"),
        ("code", "trainer.save_checkpoint('digits.pt')\n"
                 "reloaded = ImageClassifier.load_from_checkpoint('digits.pt')\n"
                 "assert reloaded.predict(images[:10]) == model.predict(images[:10])\n"
                 "flash.plot_metrics(trainer, path='curves.png')\n"
                 "display(Image('curves.png'))"),
    ],
    "02_image_classification.ipynb": [
        ("md", "# Image classification from folders\n\nThe usual layout: one folder per class. We write the digits "
               "as PNG files first, then train from the folders, look at a batch, and read a confusion matrix."),
        ("code", SETUP),
        ("code", "from pathlib import Path\n"
                 "from PIL import Image as PILImage\n"
                 "from flash.image.classification.demo import load_digits\n"
                 "images, targets = load_digits()\n"
                 "n = 300 if QUICK else 1797\n"
                 "for i, (image, target) in enumerate(zip(images[:n], targets[:n])):\n"
                 "    split = 'val' if i % 5 == 0 else 'train'\n"
                 "    folder = Path('digits') / split / str(target)\n"
                 "    folder.mkdir(parents=True, exist_ok=True)\n"
                 "    PILImage.fromarray(image).save(folder / f'{i}.png')"),
        ("code", "from flash.image import ImageClassificationData, ImageClassifier\n"
                 "datamodule = ImageClassificationData.from_folders(train_folder='digits/train', val_folder='digits/val',\n"
                 "                                                  batch_size=32, transform_kwargs={'image_size': (16, 16)})\n"
                 "datamodule.show_batch(path='batch.png')\n"
                 "display(Image('batch.png'))"),
        ("code", "model = ImageClassifier(backbone='test_resnet' if QUICK else 'resnet18', pretrained=False, labels=datamodule.labels)\n"
                 "trainer = flash.Trainer(max_epochs=1 if QUICK else 6, limit_train_batches=3 if QUICK else None)\n"
                 "trainer.finetune(model, datamodule=datamodule, strategy='no_freeze')\n"
                 "trainer.callback_metrics['val_accuracy']"),
        ("md", "## Where does it go wrong?\n\nRows are the true digit, columns the predicted one."),
        ("code", "from flash.core.plots import plot_confusion_matrix\n"
                 "files = sorted(Path('digits/val').rglob('*.png'))\n"
                 "predicted = model.predict([str(f) for f in files], output='classes')\n"
                 "truth = [datamodule.labels.index(f.parent.name) for f in files]\n"
                 "plot_confusion_matrix(truth, predicted, labels=datamodule.labels, path='confusion.png')\n"
                 "display(Image('confusion.png'))"),
    ],
    "03_object_detection.ipynb": [
        ("md", "# Object detection\n\nA detector finds objects and draws a box around each. We train on generated "
               "shapes (the boxes are known exactly) and draw the predicted boxes."),
        ("code", SETUP),
        ("code", "from flash.image import ObjectDetector\n"
                 "from flash.image.detection.demo import DEMO_MODEL, demo_datamodule\n"
                 "datamodule = demo_datamodule('shapes', num_train=8 if QUICK else 96, num_val=4 if QUICK else 32, batch_size=4)\n"
                 "model = ObjectDetector(labels=datamodule.labels, **DEMO_MODEL)\n"
                 "trainer = flash.Trainer(max_epochs=1 if QUICK else 10, limit_train_batches=1 if QUICK else None)\n"
                 "trainer.fit(model, datamodule=datamodule)\n"
                 "{k: v for k, v in trainer.callback_metrics.items() if 'map' in k}"),
        ("code", "from pathlib import Path\n"
                 "from flash.image.detection.visualize import draw_predictions\n"
                 "image = str(sorted(Path('shapes/val').rglob('*.png'))[0])\n"
                 "prediction = model.predict(image, threshold=0.3)\n"
                 "draw_predictions(image, prediction, path='detections.png')\n"
                 "display(Image('detections.png'))"),
    ],
    "04_text_classification.ipynb": [
        ("md", "# Text classification\n\nFine-tune a real pretrained sentence encoder (all-MiniLM-L6-v2, shipped in a "
               "PyPI package) to tell positive from negative movie reviews."),
        ("code", SETUP),
        ("code", "from flash.text import TextClassificationData, TextClassifier\n"
                 "from flash.text.classification.demo import DEMO_CSV, DEMO_MODEL\n"
                 "datamodule = TextClassificationData.from_csv('review', 'sentiment', train_file=DEMO_CSV, val_split=0.2, batch_size=16)\n"
                 "model = TextClassifier(**DEMO_MODEL, labels=datamodule.labels, max_length=64, learning_rate=1e-4)\n"
                 "trainer = flash.Trainer(max_epochs=1 if QUICK else 3, limit_train_batches=2 if QUICK else None,\n"
                 "                        limit_val_batches=2 if QUICK else None)\n"
                 "trainer.finetune(model, datamodule=datamodule, strategy='no_freeze')\n"
                 "{k: v for k, v in trainer.callback_metrics.items() if k.startswith('val_')}"),
        ("code", "model.predict(['What a wonderful, moving film.', 'I want those two hours of my life back.'])"),
    ],
    "05_speech_recognition.ipynb": [
        ("md", "# Speech recognition\n\nA tiny recognizer trained on synthesised speech. We measure the word error "
               "rate (WER: the share of words wrong) before and after training."),
        ("code", SETUP),
        ("code", "from flash.audio import SpeechRecognizer\n"
                 "from flash.audio.speech_recognition.demo import DEMO_MODEL, demo_datamodule\n"
                 "datamodule = demo_datamodule(batch_size=4)\n"
                 "model = SpeechRecognizer(**DEMO_MODEL)\n"
                 "trainer = flash.Trainer(max_epochs=1 if QUICK else 60, limit_train_batches=2 if QUICK else None)\n"
                 "before = trainer.validate(model, datamodule=datamodule)[0]\n"
                 "trainer.fit(model, datamodule=datamodule)\n"
                 "after = trainer.validate(model, datamodule=datamodule)[0]\n"
                 "print(f\"WER before training: {before['val_wer']:.2f}, after: {after['val_wer']:.2f}\")"),
        ("code", "from flash.audio.speech_recognition.demo import demo_rows\n"
                 "rows = demo_rows()[:4]\n"
                 "list(zip([r['text'] for r in rows], model.predict([r['file'] for r in rows])))"),
    ],
    "06_beginner_tutorial.ipynb": [
        ("md", "# Fine-tuning, in plain words\n\n"
               "* A **backbone** is a network that turns an input (an image, a sentence) into a list of numbers, "
               "its *features*. A pretrained backbone has already learnt useful features on a huge data set.\n"
               "* A **head** is a small layer on top that turns features into *your* classes. Fine-tuning trains "
               "the head (and maybe the backbone) on your data.\n"
               "* A **validation split** is data the model never trains on. Its score tells you how the model "
               "does on new data.\n"
               "* **Overfitting** is when the training score keeps improving but the validation score stops or gets "
               "worse: the model memorises the training examples instead of learning the pattern."),
        ("code", SETUP),
        ("md", "## See overfitting happen\n\nWe train on very few digits (60) for many epochs and plot the losses."),
        ("code", "from flash.image import ImageClassificationData, ImageClassifier\n"
                 "from flash.image.classification.demo import load_digits\n"
                 "images, targets = load_digits()\n"
                 "datamodule = ImageClassificationData.from_numpy(train_data=images[:60], train_targets=targets[:60],\n"
                 "    val_data=images[1000:1300], val_targets=targets[1000:1300], batch_size=20, labels=[str(d) for d in range(10)],\n"
                 "    transform_kwargs={'image_size': (16, 16)})\n"
                 "model = ImageClassifier(backbone='test_resnet', pretrained=False, labels=datamodule.labels)\n"
                 "trainer = flash.Trainer(max_epochs=3 if QUICK else 40, log_every_n_steps=1)\n"
                 "trainer.fit(model, datamodule=datamodule)\n"
                 "flash.plot_metrics(trainer, path='overfitting.png', metrics=['train_loss_epoch', 'val_loss'])\n"
                 "display(Image('overfitting.png'))"),
        ("md", "The training loss falls towards zero while the validation loss flattens or rises: that gap is "
               "overfitting. Remedies: more data, data augmentation, a pretrained backbone, fewer epochs "
               "(`flash.EarlyStopping('val_loss')` stops for you)."),
        ("md", "## The backbone and the head, concretely"),
        ("code", "print(type(model.backbone).__name__, '->', model.num_features, 'features')\n"
                 "print('head:', model.head)"),
    ],
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        notebook = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
