# docs/source/reference/image_classification.rst, "Custom Transformations": the testsetup and testcode blocks,
# verbatim, after the docs' doctest global setup (import torch).
import torch

from flash.core.data.utils import download_data

download_data("https://pl-flash-data.s3.amazonaws.com/hymenoptera_data.zip", "./data")


from dataclasses import dataclass

from torchvision import transforms as T

import flash
from flash.core.data.io.input_transform import InputTransform
from flash.core.data.transforms import ApplyToKeys
from flash.image import ImageClassificationData, ImageClassifier


@dataclass
class ImageClassificationInputTransform(InputTransform):
    image_size: tuple[int, int] = (196, 196)
    mean: float | tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: float | tuple[float, float, float] = (0.229, 0.224, 0.225)

    def per_sample_transform(self):
        return T.Compose(
            [
                ApplyToKeys(
                    "input",
                    T.Compose([T.ToTensor(), T.Resize(self.image_size), T.Normalize(self.mean, self.std)]),
                ),
                ApplyToKeys("target", torch.as_tensor),
            ]
        )

    def train_per_sample_transform(self):
        return T.Compose(
            [
                ApplyToKeys(
                    "input",
                    T.Compose(
                        [
                            T.ToTensor(),
                            T.Resize(self.image_size),
                            T.Normalize(self.mean, self.std),
                            T.RandomHorizontalFlip(),
                            T.ColorJitter(),
                            T.RandomAutocontrast(),
                            T.RandomPerspective(),
                        ]
                    ),
                ),
                ApplyToKeys("target", torch.as_tensor),
            ]
        )


datamodule = ImageClassificationData.from_folders(
    train_folder="data/hymenoptera_data/train/",
    val_folder="data/hymenoptera_data/val/",
    transform=ImageClassificationInputTransform,
    transform_kwargs=dict(image_size=(128, 128)),
    batch_size=1,
)

model = ImageClassifier(backbone="resnet18", num_classes=datamodule.num_classes)

trainer = flash.Trainer(max_epochs=1)
trainer.finetune(model, datamodule=datamodule, strategy="freeze")
