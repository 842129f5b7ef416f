"""Is the embedded shapes set learnable by SSL at the cpu profile, and are its textured
backgrounds a shortcut? VICReg for a 150 s budget on the default shapes and on shapes with
flat backgrounds, each beside its randomly initialised backbone (same kNN protocol).

    python benchmarks/shapes_learnability.py   # writes results/tuning/shapes_learnability.json
"""
import dataclasses, json
from sslkit import data as sdata, course
from sslkit.train import TrainConfig, train
from sslkit.train.budget import steps_for_budget
out = {}
for name, kw in {"textured (default)": {}, "flat backgrounds": {"backgrounds": ["flat"]}}.items():
    tr = sdata.load("shapes", split="train", **kw); te = sdata.load("shapes", split="test", **kw)
    cfg = TrainConfig(method="vicreg", profile="cpu")
    rnd = course.random_init_knn(cfg, tr, te)
    steps, sps = steps_for_budget(cfg, 150, train_data=tr, test_data=te)
    r = train(dataclasses.replace(cfg, steps=steps), train_data=tr, test_data=te, progress=False)
    out[name] = dict(random_init_knn=rnd, knn=r.metrics["knn_top1"], steps=steps, wall=r.wall_s,
                     rank=r.history[-1]["rank"])
    print(name, out[name], flush=True)
json.dump({"what": "VICReg, cpu profile (SmallCNN, batch 128, AdamW), 150 s budget per run; "
                   "kNN k=20 T=0.07 on 10,000 train / 2,000 test shapes images; "
                   "random_init_knn: the same backbone untrained",
           "script": "benchmarks/shapes_learnability.py", "runs": out},
          open("results/tuning/shapes_learnability.json", "w"), indent=1)
