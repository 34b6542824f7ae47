"""Preference rewards the reward-optimisation literature reports: PickScore, HPSv2.1 and ImageReward.

Each is a scorer (images in [0, 1], (B, C, H, W) -> loss (B,) = -reward) over networks passed in built; the
loaders (load_pickscore, load_hps, load_image_reward) are separate and read local folders or hub caches.
"""

from .image_reward import IMAGE_REWARD_MEAN, IMAGE_REWARD_STD, ImageRewardScorer, reward_head
from .loaders import load_hps, load_image_reward, load_pickscore
from .preference import HPS_ARCH, PreferenceScorer

__all__ = ["PreferenceScorer", "HPS_ARCH", "ImageRewardScorer", "reward_head", "IMAGE_REWARD_MEAN",
           "IMAGE_REWARD_STD", "load_pickscore", "load_hps", "load_image_reward"]
