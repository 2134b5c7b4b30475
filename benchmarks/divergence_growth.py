"""How much the weights grow in training that learns and in training that blows up.

    python benchmarks/divergence_growth.py N [CASES] [EPOCHS]

N MNIST training images, CASES a comma list of case numbers (default: all), EPOCHS (2).
Prints each case's weights' root mean square before and after, and how fit ended; the
figures behind ``microgradnn.divergence``'s limits (benchmarks/RESULTS.md, "Divergence").
"""
import sys, numpy as np, time
from microgradnn.models import build_model
from microgradnn.optim import SGD, Adam
from microgradnn.training import fit, TrainingDiverged
from microgradnn.datasets.mnist import load_mnist
N=int(sys.argv[1]); X,Y = load_mnist("train", progress=False); tr=(X[:N],Y[:N])
def rms(m):
    s=n=0
    for p in m.parameters():
        s+=float((p.data.astype(np.float64)**2).sum()); n+=p.data.size
    return (s/n)**.5
def mx(m): return max(float(np.abs(p.data).max()) for p in m.parameters())
cases=[("mlp sig mse lr3", {"model":"mlp","hidden":[30],"activation":"sigmoid"}, "sgd", 3.0, "mse"),
       ("mlp relu ce sgd 0.5", {"model":"mlp","hidden":[100]}, "sgd", 0.5, "cross-entropy"),
       ("mlp mse lr1e30", {"model":"mlp","hidden":[30],"activation":"sigmoid"}, "sgd", 1e30, "mse"),
       ("lenet adam 2e-3", {"model":"lenet5"}, "adam", 2e-3, "cross-entropy"),
       ("lenet adam 1e-2", {"model":"lenet5"}, "adam", 1e-2, "cross-entropy"),
       ("lenet sgd 1e4", {"model":"lenet5"}, "sgd", 1e4, "cross-entropy"),
       ("lenet adam 1e4", {"model":"lenet5"}, "adam", 1e4, "cross-entropy"),
       ("resnet adam 2e-2", {"model":"resnet"}, "adam", 2e-2, "cross-entropy"),
       ("resnet adam 1e4", {"model":"resnet"}, "adam", 1e4, "cross-entropy"),
       ("lenet mse sgd 1e4", {"model":"lenet5"}, "sgd", 1e4, "mse"),
       ("mlp sig mse lr 30", {"model":"mlp","hidden":[30],"activation":"sigmoid"}, "sgd", 30.0, "mse"),
       ("lenet mse adam 1e4", {"model":"lenet5"}, "adam", 1e4, "mse"),
]
sel = sys.argv[2].split(",") if len(sys.argv)>2 else None
for i,(name,spec,opt,lr,loss) in enumerate(cases):
    if sel and str(i) not in sel: continue
    m=build_model(spec); r0=rms(m); m0=mx(m)
    o=(SGD if opt=="sgd" else Adam)(m.parameters(), lr=lr)
    t=time.time()
    try:
        h=fit(m,o,tr,int(sys.argv[3]) if len(sys.argv)>3 else 2,64,progress=False,loss=loss)
        res=f"acc {h[-1]['train_accuracy']:.3f} loss {h[-1]['train_loss']:.3g}"
    except TrainingDiverged as e:
        res="DIVERGED "+str(e)[:100]
    print(f"{name:22s} rms {r0:.3g}->{rms(m):.3g} ({rms(m)/r0:.3g}x) max {m0:.3g}->{mx(m):.3g} {res} {time.time()-t:.1f}s", flush=True)
