"""The starter's pages for the student: README.md (English), README.es.md (Spanish), ANSWERS.md.
Their item tables are made from items.py, so the pages and the grader never disagree."""
from codebase.kit import items

EN = {
    "title": "# Variational autoencoders and semi-supervised learning on binarized MNIST",
    "setup": """## Setup

    python -m venv .venv && . .venv/bin/activate
    pip install -r requirements.txt

MNIST is downloaded into `./data` on the first run; to use a copy elsewhere, set `MNIST_DATA_DIR`
(or pass `--data-dir`).""",
    "implement": "## What to implement",
    "lead": ("Each function below keeps its signature and docstring (read it: it gives the shapes); its body "
             "raises `ToDo`, so a run script that reaches it stops with one line, "
             "`error: item N is not implemented yet: ...`."),
    "head": "| item | points | file | function | what |",
    "notes": """Notes:
- `run_vae.py` runs once 1.1 and 1.2 are done. It prints the IWAE bounds too once you write
  `VAE.negative_iwae_bound` (optional, not graded: with one sample it is item 1.2's bound, so the
  starter leaves it out); until then a notice says they are skipped.
- `VAE.negative_elbo_bound` takes its KL from `self.kl(m, v, z)`: the GMVAE overrides `kl` and
  inherits the bound, so `run_gmvae.py` needs items 1.1, 1.2 and 2.1.
- `python run_ssvae.py -gw 0` (item 3.1) runs from the start: it trains the classifier alone.
- A run stopped by an error leaves its folders behind: run it again with `--overwrite`.""",
    "check": """## Checking your code

    python -m codebase.kit.check          # every item; or name some: python -m codebase.kit.check 1.1 2.1

It runs the public cases (inputs and the reference's outputs, in `codebase/kit/cases.json`) and
prints, item by item, `passed` or `failed` and why. The grader runs them too, with hidden cases
beside them (other shapes, seeds and values), and grades each function with the reference's code
around it.""",
    "runs": """## The runs to report

| item | command |
| --- | --- |
| 1.3, 1.4 | `python run_vae.py --runs 3` (several runs: report the mean and the standard error) |
| 1.5 | `python run_vae.py --beta 2`, and other values of `--beta` |
| 2.2, 2.3 | `python run_gmvae.py --runs 3` |
| 3.1 | `python run_ssvae.py -gw 0` |
| 3.3 | `python run_ssvae.py` |

Each run writes `logs/<run>/metrics.json` (what it printed) and `logs/<run>/samples.png` (the
10 x 20 grid of digits). Fill `ANSWERS.md` with the printed numbers and your interpretation of beta.""",
    "submit": """## Handing in

    python -m codebase.kit.submit          # writes submission.zip; --force replaces an existing one

The zip holds your code ({files}), `logs/*/metrics.json`, `logs/*/samples.png` and `ANSWERS.md`;
the command warns about what is still missing (a stub left, a run not made). Upload `submission.zip`
to Gradescope.""",
    "points": "Points: {auto} graded automatically (code by cases, runs by their records, pictures by their size); "
              "{manual} ({numbers}) graded by a person.",
}

ES = {
    "title": "# Autoencoders variacionales y aprendizaje semisupervisado en MNIST binarizado",
    "setup": """## Preparación

    python -m venv .venv && . .venv/bin/activate
    pip install -r requirements.txt

MNIST se descarga en `./data` la primera vez; para usar una copia en otro lugar, defina
`MNIST_DATA_DIR` (o pase `--data-dir`).""",
    "implement": "## Qué implementar",
    "lead": ("Cada función de la tabla conserva su firma y su docstring (léalo: da las formas de los tensores); "
             "su cuerpo lanza `ToDo`, así que un script que llega a ella termina con una línea, "
             "`error: item N is not implemented yet: ...`."),
    "head": "| ítem | puntos | archivo | función | qué |",
    "notes": """Notas:
- `run_vae.py` funciona con 1.1 y 1.2 hechos. Imprime también las cotas IWAE cuando usted escriba
  `VAE.negative_iwae_bound` (opcional, sin puntos: con una muestra es la cota del ítem 1.2, por eso
  el código inicial no la trae); mientras tanto un aviso dice que se omiten.
- `VAE.negative_elbo_bound` toma su KL de `self.kl(m, v, z)`: el GMVAE redefine `kl` y hereda la
  cota, así que `run_gmvae.py` necesita los ítems 1.1, 1.2 y 2.1.
- `python run_ssvae.py -gw 0` (ítem 3.1) funciona desde el principio: entrena solo el clasificador.
- Una corrida detenida por un error deja sus carpetas: córrala de nuevo con `--overwrite`.""",
    "check": """## Comprobar el código

    python -m codebase.kit.check          # todos los ítems; o algunos: python -m codebase.kit.check 1.1 2.1

Corre los casos públicos (entradas y salidas de la referencia, en `codebase/kit/cases.json`) e
imprime, ítem por ítem, `passed` o `failed` y por qué. El calificador también los corre, junto con
casos ocultos (otras formas, semillas y valores), y califica cada función con el código de la
referencia alrededor.""",
    "runs": """## Las corridas a informar

| ítem | comando |
| --- | --- |
| 1.3, 1.4 | `python run_vae.py --runs 3` (varias corridas: informe la media y el error estándar) |
| 1.5 | `python run_vae.py --beta 2`, y otros valores de `--beta` |
| 2.2, 2.3 | `python run_gmvae.py --runs 3` |
| 3.1 | `python run_ssvae.py -gw 0` |
| 3.3 | `python run_ssvae.py` |

Cada corrida escribe `logs/<corrida>/metrics.json` (lo que imprimió) y `logs/<corrida>/samples.png`
(la grilla de 10 x 20 dígitos). Complete `ANSWERS.md` con los números impresos y su interpretación de beta.""",
    "submit": """## Entregar

    python -m codebase.kit.submit          # escribe submission.zip; --force reemplaza uno existente

El zip contiene su código ({files}), `logs/*/metrics.json`, `logs/*/samples.png` y `ANSWERS.md`;
el comando avisa de lo que falta (un stub sin implementar, una corrida no hecha). Suba
`submission.zip` a Gradescope.""",
    "points": "Puntos: {auto} calificados automáticamente (el código por casos, las corridas por sus registros, las "
              "imágenes por su tamaño); {manual} ({numbers}) los califica una persona.",
}


def readme(lang):
    """The student's README in "en" or "es"."""
    t = EN if lang == "en" else ES
    rows = [f"| {i.number} | {p.points:g} of {i.points:g} | `{p.file}` | `{p.function}` | "
            + (p.what if lang == "en" else i.title[1]).replace("|", "\\|") + " |"
            for i in items.CODE for p in i.parts]
    manual = [i for i in items.ITEMS if i.kind == "person"]
    auto = sum(i.points for i in items.ITEMS) - sum(i.points for i in manual)
    files = ", ".join(f"`{f}`" for f in items.FILES)
    return "\n\n".join([
        t["title"], t["setup"], t["implement"], t["lead"],
        "\n".join([t["head"], "| --- | --- | --- | --- | --- |", *rows]), t["notes"], t["check"], t["runs"],
        t["submit"].format(files=files),
        t["points"].format(auto=f"{auto:g}", manual=f"{sum(i.points for i in manual):g}",
                           numbers=", ".join(i.number for i in manual)),
    ]) + "\n"


def answers():
    """ANSWERS.md: the tables of printed numbers to fill and the beta-VAE's interpretation."""
    def table(metrics):
        return "\n".join(["| metric | mean | standard error |", "| --- | --- | --- |",
                          *[f"| {m} |  |  |" for m in metrics]])
    parts = ["# Answers / Respuestas",
             "Runs: how many, and their commands / Corridas: cuántas, y sus comandos:"]
    for item in items.ITEMS:
        head = f"## {item.number} {item.title[0]} / {item.title[1]}"
        if item.kind == "run":
            parts += [head, table([m for m, _ in item.run.scores if m != "runs"])]
        elif item.kind == "picture":
            parts += [head, "Packed from `logs/<run>/samples.png` by `python -m codebase.kit.submit`."]
        elif item.kind == "person":
            parts += [head, "beta values run / valores de beta corridos:",
                      "What happens with beta = 1, and as beta grows above 1 / "
                      "Qué pasa con beta = 1, y cuando beta crece por encima de 1:"]
    return "\n\n".join(parts) + "\n"
