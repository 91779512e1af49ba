import numpy as np

from vad.stage2.similarity import SummaryEmbedder, bag_of_words, clean_captions, refine


class ColourEncoder:
    """Images and texts live in a 3-d 'colour' space: a frame's mean BGR, a caption's colour
    words. Enough to check that each frame takes the caption matching its image."""

    name = "colour"
    WORDS = {"blue": [1, 0, 0], "green": [0, 1, 0], "red": [0, 0, 1]}

    def embed_images(self, images):
        return np.stack([img.reshape(-1, 3).mean(0) for img in images]).astype(np.float32)

    def embed_texts(self, texts):
        out = []
        for text in texts:
            vec = np.full(3, 0.01, np.float32)
            for word, v in self.WORDS.items():
                if word in text:
                    vec += v
            out.append(vec)
        return np.stack(out)


def image(bgr):
    return np.full((8, 8, 3), bgr, np.uint8)


def test_each_frame_takes_the_best_matching_caption_from_window_and_neighbours():
    frames = [image((255, 0, 0)), image((0, 0, 255)), image((0, 255, 0))]
    raw = ["a blue car", "a blue sky", "noise"]
    cleaned = clean_captions(frames, raw, ["a red door", "a green tree"], ColourEncoder())
    assert cleaned.captions == ["a blue car", "a red door", "a green tree"]
    assert cleaned.note.startswith("colour: 2/3 replaced")


def test_without_encoder_cleaning_is_skipped_and_said():
    cleaned = clean_captions([image((0, 0, 0))], ["x"], ["y"], None)
    assert cleaned.captions == ["x"] and "skipped" in cleaned.note


def test_refine_weights_similar_summaries():
    me = [1.0, 0.0]
    past = [(1, [1.0, 0.0], 1.0), (2, [0.0, 1.0], 0.0), (3, [-1.0, 0.0], 0.0)]
    refined = refine(0.0, me, past, k=5)
    assert np.isclose(refined.score, 0.5)  # (0 * 1 + 1 * 1) / 2; orthogonal/opposite ignored
    assert [n["id"] for n in refined.neighbours] == [1]
    assert refine(None, me, past, k=5).score is None
    assert refine(0.3, me, [], k=5).score == 0.3


def test_bag_of_words_similarity_orders_summaries():
    a = bag_of_words("a person rides a bicycle on the walkway")
    b = bag_of_words("someone rides a bicycle along the walkway")
    c = bag_of_words("an empty parking lot at night")
    assert float(a @ b) > float(a @ c)
    assert SummaryEmbedder(None).kind.startswith("bow")
